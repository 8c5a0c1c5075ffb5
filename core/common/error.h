#pragma once
// The project's error type for I/O and format problems: the message names the
// file, says what was wrong and, where there is one, what to do about it.

#include <filesystem>
#include <stdexcept>
#include <string>

namespace vitrine::core {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
    Error(const std::filesystem::path& file, const std::string& problem)
        : std::runtime_error(file.string() + ": " + problem), m_file(file), m_problem(problem) {}

    const std::filesystem::path& file() const { return m_file; }
    /// The problem without the file name; empty when the error names no file.
    const std::string& problem() const { return m_problem; }

private:
    std::filesystem::path m_file;
    std::string m_problem;
};

/// Thrown by long jobs when their CancelToken was set; never an error to report.
class Cancelled : public std::runtime_error {
public:
    Cancelled() : std::runtime_error("cancelled") {}
};

} // namespace vitrine::core
