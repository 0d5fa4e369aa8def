"""``python -m mprog`` refuses nonsense with one line and exit status 2, before running."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mprog import __version__
from mprog.__main__ import main


@pytest.mark.parametrize("args, says", [
    (["--backends", "core"], "at least two backends"),
    (["--backends", "core,core"], "twice"),
    (["--trace-len", "0"], "--trace-len must be at least 1"),
    (["--trace-len", "-5"], "--trace-len must be at least 1"),
    (["--jobs", "-3"], "--jobs must be at least 0"),
    (["--seconds", "-1"], "--seconds must be a positive"),
    (["--seconds", "nan"], "--seconds must be a positive"),
    (["--seconds", "inf"], "--seconds must be a positive"),
    (["--ops", "0"], "--ops must be at least 1"),
    (["--traces", "-1"], "--traces must be at least 1"),
    (["--bad-input", "150"], "percentage"),
    (["--out", "/nonexistent"], "is not a directory"),
])
def test_fuzz_refuses_nonsense(args, says, capsys):
    assert main(["fuzz", "--quiet"] + args) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("content, says", [
    ('{"format": "mprog-trace/1", "dialect": "upstream"}', "not a trace"),
    ('{"format": "mprog-trace/1", "dialect": "upstream", "steps": [{"op": 3}]}', "JSON object"),
    ('[{"op": "attach"}]', "missing"),
    ('[1, 2]', "JSON object"),
    ('{"format": "mprog-record/1", "dialect": "upstream"}\n{"op": "link_close", "link": "x"}',
     "label"),
    ("not json at all", "mprog"),
    ('"a string"', "not a trace"),
])
@pytest.mark.parametrize("command", ["show", "replay"])
def test_malformed_traces_are_one_line_errors(tmp_path, capsys, content, says, command):
    path = tmp_path / "t.json"
    path.write_text(content)
    assert main([command, str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1, err


def test_missing_trace_file(capsys):
    assert main(["show", "/nonexistent/trace.json"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_version(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.strip() == f"mprog {__version__}"


def test_output_closed_early_is_no_traceback(tmp_path):
    ops = [{"op": "new_prog", "as": i} for i in range(200)]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(ops))
    env = dict(os.environ)
    proc = subprocess.run(f"{sys.executable} -m mprog show {path} | head -n 3",
                          shell=True, capture_output=True, text=True, env=env,
                          executable="/bin/bash")
    assert len(proc.stdout.splitlines()) == 3
    assert "Traceback" not in proc.stderr, proc.stderr


def test_fuzz_progress_and_report_say_what_a_user_looks_at(tmp_path, capsys):
    assert main(["fuzz", "--traces", "3", "--trace-len", "20", "--seed", "4",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 traces (1 checked in full)" in out
    assert "per backend" in out and "core" in out and "model" in out


def test_jobs_run_in_worker_processes(tmp_path, capsys):
    assert main(["fuzz", "--traces", "8", "--trace-len", "30", "--seed", "9", "--jobs", "2",
                 "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "jobs 2" in out and "8 traces" in out and "no divergence" in out
