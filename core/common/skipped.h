#pragma once
// A file a job could not use, with the reason: what scanning, embedding, auditing and the
// GUI's data set all report, so that none of them reaches into another folder for it.

#include <string>

namespace vitrine::core {

struct Skipped {
    std::string path;   ///< as found
    std::string reason; ///< a sentence a person can act on
};

} // namespace vitrine::core
