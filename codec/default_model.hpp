#pragma once
// The model compiled into the library, so encoding and decoding need no model argument.
#include "codec/model.hpp"

namespace msinr::codec {

// Parsed once, then shared (read-only, safe from any thread). Throws kUnsupported when this
// build has no model compiled in.
const Model& default_model();
bool has_default_model();

}  // namespace msinr::codec
