"""Keep three programs in priority order while someone else attaches and detaches a program
around them.

    python examples/priority.py [--backend core|model|kernel] [--dialect upstream|cgroup]

The kernel backend (root) runs it on a real tcx chain in a private network namespace, or with
``--dialect cgroup`` on the BPF_CGROUP_INET_INGRESS list of a private cgroup (every managed
attach ALLOW_MULTI, the links tracked by the manager).
"""
from __future__ import annotations

import argparse
import importlib
from typing import Any, List, Optional

from mprog import After, Head
from mprog.priority import Manager

BACKENDS = {"core": "mprog", "model": "mprog.model", "kernel": "mprog.kernel"}


def main(argv: Optional[List[str]] = None) -> List[List[str]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=sorted(BACKENDS), default="core")
    ap.add_argument("--dialect", choices=["upstream", "cgroup"], default="upstream")
    args = ap.parse_args(argv)
    backend = importlib.import_module(BACKENDS[args.backend])

    audit, policy, stats = (backend.Program(n, dialect=args.dialect)
                            for n in ("audit", "policy", "stats"))
    firewall = backend.Program("firewall", dialect=args.dialect)  # not ours: someone else's
    names = {p.id: p.name for p in (audit, policy, stats, firewall)}
    seen: List[List[str]] = []
    with backend.Bundle(args.dialect) as chain:
        m = Manager(chain)

        def show(what: str) -> None:
            order = [names[i] for i in chain.query().prog_ids]
            ours = [n for n in order if n != "firewall"]
            wanted = sorted(ours, key=lambda n: m.priority(by_name[n]))
            assert ours == wanted, f"out of priority order: {order}"
            seen.append(order)
            print(f"{what:<44} {' -> '.join(order)}")

        by_name = {"audit": audit, "policy": policy, "stats": stats}
        m.place(policy, 20)
        show("place policy (20)")
        chain.attach(firewall, Head())                # cgroup: ALLOW_MULTI, as ours
        show("someone attaches firewall at the head")
        m.place(audit, 10)
        show("place audit (10): before policy")
        link: Any = m.place(stats, 30, link=True)
        show(f"link stats (30): after policy (link {link.id})")
        chain.detach(firewall)
        show("firewall leaves")
        chain.attach(firewall, After(audit))
        show("firewall comes back after audit")
        print(f"{'  the plan to give stats priority 5:':<44} {m.plan(stats, 5)}")
        m.reprioritize(stats, 5)
        show("reprioritize stats (5): first of ours")
        m.reprioritize(audit, 25)
        show("reprioritize audit (25): moves past policy")
        for p in (stats, audit, policy):
            m.remove(p)
        show("remove ours: the firewall stays")
        chain.detach(firewall)
        print(f"retries: {m.retries}")
    for p in (audit, policy, stats, firewall):
        p.close()
    return seen


if __name__ == "__main__":
    main()
