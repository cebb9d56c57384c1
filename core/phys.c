#include "phys.h"

uintptr_t phys_direct_map_base;
