// What the worker processes share (custos-extract, custos-render,
// custos-stamp): failing with an exit code and one line on stderr, reading
// the one document from stdin up to a limit, writing stdout whole, and
// main()'s mapping of exceptions to exit codes (extract/extraction.h).
//
// A worker is a single-threaded short-lived process: RunWorkerMain sets the
// program name every later Fail() prefixes its line with.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace custos::extract {

// Prints "<program>: <reason>" to stderr and exits with `code`.
[[noreturn]] void Fail(int code, const std::string& reason);

// stdin to its end; exits kExitTooLarge past `max_bytes`, kExitFailure when
// it cannot be read.
std::string ReadStdin(size_t max_bytes);

// Writes all of `bytes` to stdout; exits kExitFailure when it cannot.
void WriteStdout(std::string_view bytes);

// The raster image types the workers render and stamp (PNG, JPEG, TIFF,
// GIF, BMP, WebP), by identified media type.
bool IsRasterImage(const std::string& mime);

// Runs `run` as the worker `program`: an UnreadableDocument ends it with
// kExitUnreadable, std::bad_alloc with kExitOutOfMemory, any other
// exception with kExitFailure, each with its line on stderr.
int RunWorkerMain(const char* program, int (*run)(int, char**), int argc, char** argv);

}  // namespace custos::extract
