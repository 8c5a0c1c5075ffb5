#pragma once
// The one way Vitrine writes files: into a temporary file in the target folder,
// flushed and fsync'ed, then renamed over the target. A failed or cancelled write
// leaves any earlier file untouched and no temporary file behind. (Reading a whole file:
// readFile in core/common/files.h.)

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string_view>

namespace vitrine::core::io {

/// An atomic write kept open while its content is produced piece by piece (for output that
/// arrives over a long job, such as embeddings streamed batch by batch). Nothing is visible
/// at `target` until commit(); destroying the writer without commit() (an exception, a
/// cancelled job) removes the temporary file and leaves any earlier file untouched.
class AtomicFileWriter {
public:
    /// Creates the temporary file beside `target`. Throws core::Error naming the target and
    /// the reason (folder missing or read-only, target is a directory, ...).
    explicit AtomicFileWriter(const std::filesystem::path& target);
    ~AtomicFileWriter();
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

    /// The content stream. Write errors (disk full, ...) surface at commit() or overwrite().
    std::ostream& stream();
    /// Throws core::Error (and removes the temporary) if a write has already failed, e.g. on
    /// a full disk: long jobs call it as they go instead of finding out at commit().
    void checkWrites();
    /// Bytes written so far.
    std::uint64_t size();
    /// Replaces bytes already written at `offset` (e.g. a header whose final values are known
    /// only at the end). The range must lie within what was written.
    void overwrite(std::uint64_t offset, std::string_view bytes);
    /// Flushes, fsyncs and renames the file over `target`: prepare() then publish(). Throws
    /// core::Error on failure, in which case the earlier file is unchanged and no temporary remains.
    void commit();
    /// The part of commit() that can fail for lack of space: flush, fsync and close. Writers
    /// that replace several files together prepare them all before publishing any.
    void prepare();
    /// Renames the prepared file over `target` (and makes the rename durable).
    void publish();
    /// Removes the temporary file now (also what the destructor does without commit()).
    void abandon() noexcept;

    const std::filesystem::path& target() const { return m_target; }

private:
    [[noreturn]] void fail(int err, const char* what);
    void flushOrThrow();

    std::filesystem::path m_target, m_dir, m_tmp;
    int m_fd = -1;
    bool m_prepared = false;
    class Buffer;
    std::unique_ptr<Buffer> m_buf;
    std::unique_ptr<std::ostream> m_out;
};

/// Writes `target` atomically; `produce` streams the content. Throws core::Error
/// naming the target and the reason (read-only folder, target is a directory,
/// disk full, ...). Exceptions from `produce` propagate after cleanup.
void writeFileAtomically(const std::filesystem::path& target, const std::function<void(std::ostream&)>& produce);

/// Convenience for content already in memory.
void writeFileAtomically(const std::filesystem::path& target, std::string_view bytes);

} // namespace vitrine::core::io
