# The shared library exports the public API and nothing else: every defined dynamic symbol is a C
# function of msinr.h (msinr_*) or a C++ declaration of the public headers (msinr::Model, Encoder,
# Decoder, Error, the free functions). An engine, codec, format or CUDA symbol here means a target
# lost its hidden visibility, and apps could start depending on internals.
# Usage: cmake -DNM=... -DLIBRARY=libmsinr.so -P exported_symbols.cmake
execute_process(COMMAND ${NM} -DC --defined-only ${LIBRARY} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${LIBRARY}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(public "^msinr_[a-z_]+$|^msinr::(Model|Encoder|Decoder|Error)(::|$)|^msinr::(encode|decode|read_info|version|read_image|write_png|read_file|write_file|psnr|ssim|output_size|error_code_name)\\(")
set(count 0)
set(leaks "")
foreach(line IN LISTS lines)
  # "ADDRESS TYPE NAME": functions (T) and data (D, B, R, V) defined here; weak template instances
  # of the standard library (W) are not ours to hide.
  if(NOT line MATCHES "^[0-9a-f]+ ([TDBRV]) (.+)$")
    continue()
  endif()
  set(name "${CMAKE_MATCH_2}")
  if(name MATCHES "^(typeinfo|typeinfo name|vtable) for (msinr::Error$|std::)")
    continue()  # RTTI of the exception type (callers catch it) and of standard-library templates
  endif()
  math(EXPR count "${count} + 1")
  if(NOT name MATCHES "${public}")
    string(APPEND leaks "\n  ${name}")
  endif()
endforeach()
if(count LESS 20)
  message(FATAL_ERROR "only ${count} exported symbols found in ${LIBRARY}: is this the msinr library?")
endif()
if(leaks)
  message(FATAL_ERROR "${LIBRARY} exports internal symbols:${leaks}")
endif()
message(STATUS "${count} exported symbols, all public")
