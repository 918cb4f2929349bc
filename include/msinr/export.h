/* Symbol visibility for the msinr library (C and C++).
 * The library is built with hidden visibility (-fvisibility=hidden); only declarations marked
 * MSINR_API are exported. Consumers of the static library define MSINR_STATIC (the installed
 * CMake package and msinr.pc do this for them), which matters only on Windows. */
#ifndef MSINR_EXPORT_H
#define MSINR_EXPORT_H

#if defined(_WIN32) && !defined(MSINR_STATIC)
#  ifdef MSINR_BUILDING
#    define MSINR_API __declspec(dllexport)
#  else
#    define MSINR_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define MSINR_API __attribute__((visibility("default")))
#else
#  define MSINR_API
#endif

#endif /* MSINR_EXPORT_H */
