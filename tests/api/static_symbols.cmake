# The installed static library holds the codec and what the public API needs (engine, format,
# codec, imageio), not the tools: no rate-distortion, SVG, training-data or checkpoint-state code.
# Those live in tools/ (msinr_tools), which only the CLI and the tests link. (format/'s checkpoint
# bytes, read_checkpoint/write_checkpoint, are part of format and may be there.) A hit here means a tools
# source went back into a library that $<TARGET_OBJECTS:...> bundles into libmsinr.a.
# Usage: cmake -DNM=... -DLIBRARY=libmsinr.a -P static_symbols.cmake
execute_process(COMMAND ${NM} -C --defined-only ${LIBRARY} OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${LIBRARY}")
endif()
string(REPLACE "\n" ";" lines "${out}")
# Archive members ("name.cpp.o:") and defined symbols ("ADDRESS TYPE NAME").
set(member_pattern "(^|/)(rd|svg|bjontegaard|summary|csv|compare|runner|training|dataset)\\.cpp\\.o:$")
set(symbol_pattern "msinr::tools::|run_rd|render_rd_svg|summarize_rd|read_rd_csv|format_rd_row|bd_rate|bd_psnr|compare_curves|load_dataset|save_checkpoint|load_checkpoint|[Ss]vg")
set(members 0)
set(found "")
foreach(line IN LISTS lines)
  if(line MATCHES "\\.o:$")
    math(EXPR members "${members} + 1")
    if(line MATCHES "${member_pattern}")
      string(APPEND found "\n  member ${line}")
    endif()
  elseif(line MATCHES "^[0-9a-f]+ [A-Za-z] (.+)$")
    if(CMAKE_MATCH_1 MATCHES "${symbol_pattern}")
      string(APPEND found "\n  ${CMAKE_MATCH_1}")
    endif()
  endif()
endforeach()
if(members LESS 10)
  message(FATAL_ERROR "only ${members} objects found in ${LIBRARY}: is this the msinr static library?")
endif()
if(found)
  message(FATAL_ERROR "${LIBRARY} carries tools code (rd, SVG, training data, checkpoints):${found}")
endif()
message(STATUS "${members} objects, no tools code")
