#pragma once
// Stand-in for the CUDA runtime header in the CPU emulation build (see cuda_emu.hpp).
#include "cuda_emu.hpp"
