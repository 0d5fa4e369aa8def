// The whole public interface of the core.
#pragma once

#include "mprog/bundle.hpp"
#include "mprog/entry.hpp"
#include "mprog/rcu.hpp"
#include "mprog/transaction.hpp"
#include "mprog/types.hpp"
