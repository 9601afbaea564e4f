#define PLUE_IMPLEMENTATION
#include "plue.h"
