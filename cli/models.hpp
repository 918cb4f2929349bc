#pragma once
// Where the command line finds models. The model search path, in order:
//   1. the folders in $MSINR_MODEL_PATH (colon-separated),
//   2. share/msinr/ of the installation msinr runs from (<bin>/../share/msinr),
//   3. the install prefix's share/msinr/ chosen at build time,
//   4. for an msinr run from its build folder, the source tree's codec/models/.
// `decode` (and `--model NAME`) look there, so a file made with a model that is installed or on
// MSINR_MODEL_PATH decodes without --model.
#include <string>
#include <vector>

#include "codec/model.hpp"
#include "msinr/msinr.hpp"

namespace msinr::cli {

std::vector<std::string> model_search_path();
// "MSINR_MODEL_PATH (unset), /usr/local/share/msinr, ..." for messages.
std::string describe_model_search_path();

// --model's value: empty -> the built-in model; an existing file -> that file; a bare name (no '/')
// -> NAME or NAME.msm in the search path. `name` receives what was loaded, for messages.
// encode and decode take the public API's model (they run on msinr::Encoder / Decoder); the tools
// that work inside the codec (eval, rd) take the codec's.
msinr::Model load_model_arg(const std::string& arg, std::string* name = nullptr);
codec::Model load_codec_model_arg(const std::string& arg, std::string* name = nullptr);

// The model a container cites by id (hex, as msinr::Info::model_id). With --model given, that
// model, which must be the one (kModelMismatch otherwise, saying which model the file needs and
// where it is when the search path has it). Without, the built-in model when it is the one, else
// the search path's model with that id (noted on stderr unless quiet), else kModelMismatch naming
// the id and the folders searched.
msinr::Model model_for_file(const std::string& id_hex, const std::string& model_arg, const std::string& file_name,
                            bool quiet);

// Where decode would find the model with this id (hex), for messages: "the built-in model", the
// path of the .msm in the search path whose header carries it, or "" when neither has it.
std::string where_is_model(const std::string& id_hex);

}  // namespace msinr::cli
