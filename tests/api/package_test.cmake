# cmake -DBUILD_DIR= -DSOURCE_DIR= -DWORK_DIR= -P package_test.cmake
# Installs the build into WORK_DIR/prefix, builds tests/api/consumer with find_package(msinr) and
# consumer.c with pkg-config, and runs them all.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f include/msinr/msinr.hpp include/msinr/msinr.h include/msinr/error.hpp include/msinr/export.h
          include/msinr/version.h lib/libmsinr.a share/msinr/natural.msm share/msinr/faces.msm share/msinr/paper-faces.msm share/msinr/natural-2026-12-01.msm bin/msinr
          lib/cmake/msinr/msinrConfig.cmake lib/cmake/msinr/msinrConfigVersion.cmake lib/pkgconfig/msinr.pc)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
file(GLOB internal ${prefix}/include/msinr/backend.hpp ${prefix}/include/codec ${prefix}/include/format)
if(internal)
  message(FATAL_ERROR "internal headers installed: ${internal}")
endif()

set(consumer ${SOURCE_DIR}/tests/api/consumer)
run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/cmake-build -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build -j2)
run(${WORK_DIR}/cmake-build/consumer_shared)
run(${WORK_DIR}/cmake-build/consumer_static)

find_program(PKG_CONFIG pkg-config REQUIRED)
find_program(CC NAMES cc gcc REQUIRED)
set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
execute_process(COMMAND ${PKG_CONFIG} --cflags --libs msinr OUTPUT_VARIABLE flags RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config msinr failed")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run(${CC} -std=c11 -Wall -Wextra -Werror ${consumer}/consumer.c ${flags} -Wl,-rpath,${prefix}/lib -o ${WORK_DIR}/consumer_c)
run(${WORK_DIR}/consumer_c)

# The samples build against the installed package too; upscale runs on a shipped .msinr.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/samples -B ${WORK_DIR}/samples-build -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/samples-build -j2)
run(${WORK_DIR}/samples-build/upscale ${SOURCE_DIR}/samples/kodim23.msinr ${WORK_DIR}/kodim23-quarter.png 0.25)
if(NOT EXISTS ${WORK_DIR}/kodim23-quarter.png)
  message(FATAL_ERROR "upscale wrote nothing")
endif()
