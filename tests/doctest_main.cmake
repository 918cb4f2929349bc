find_package(doctest REQUIRED)
include(doctest)
# One shared doctest main so each suite is only its test files.
if(NOT TARGET msinr_doctest_main)
  add_library(msinr_doctest_main STATIC ${PROJECT_SOURCE_DIR}/tests/doctest_main.cpp)
  target_link_libraries(msinr_doctest_main PUBLIC doctest::doctest)
endif()
# msinr_add_test_suite(NAME SOURCES... LIBS ...)
function(msinr_add_test_suite name)
  cmake_parse_arguments(ARG "" "SKIP_REGULAR_EXPRESSION" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE msinr_doctest_main ${ARG_LIBS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE
    MSINR_SOURCE_DIR="${PROJECT_SOURCE_DIR}" MSINR_DATA_DIR="${MSINR_DATA_DIR}")
  if(ARG_SKIP_REGULAR_EXPRESSION)  # output matching it reports the test as skipped, not passed
    doctest_discover_tests(${name} ADD_LABELS 0 PROPERTIES TIMEOUT 600
                           SKIP_REGULAR_EXPRESSION "${ARG_SKIP_REGULAR_EXPRESSION}")
  else()
    doctest_discover_tests(${name} ADD_LABELS 0 PROPERTIES TIMEOUT 600)
  endif()
endfunction()
