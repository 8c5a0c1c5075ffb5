#include "core/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <sstream>

#include "core/common/error.h"

namespace vitrine::core::io {
namespace fs = std::filesystem;

namespace {

std::string describeErrno(int err) {
    switch (err) {
    case ENOSPC: return "the disk is full; free some space and try again";
    case EFBIG: return "the file is too large for this file system (or the process's file size limit)";
    case EACCES:
    case EPERM: return "permission denied; choose a folder you can write to";
    case EROFS: return "the file system is read-only; choose another folder";
    case EISDIR: return "the target is a directory; choose a file name";
    case ENOENT: return "the folder does not exist";
    default: return std::strerror(err);
    }
}

fs::path temporaryName(const fs::path& target) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::ostringstream name;
    name << '.' << target.filename().string() << ".tmp-" << std::hex << rng();
    return target.parent_path() / name.str();
}

} // namespace

/// A streambuf that writes straight to a file descriptor and remembers the first errno.
class AtomicFileWriter::Buffer : public std::streambuf {
public:
    explicit Buffer(int fd) : m_fd(fd) { setp(m_buf, m_buf + sizeof m_buf); }
    int error() const { return m_error; }
    void attach(int fd) { m_fd = fd; }
    /// After the descriptor is closed: any later write fails instead of reaching whatever
    /// file reuses the number.
    void detach() {
        m_fd = -1;
        if (!m_error)
            m_error = EBADF;
    }
    bool flushAll() { return flushBuffer(); }
    std::uint64_t written() const { return m_written + static_cast<std::uint64_t>(pptr() - pbase()); }

protected:
    int_type overflow(int_type ch) override {
        if (!flushBuffer())
            return traits_type::eof();
        if (!traits_type::eq_int_type(ch, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(ch);
            pbump(1);
        }
        return traits_type::not_eof(ch);
    }
    int sync() override { return flushBuffer() ? 0 : -1; }
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        if (n > static_cast<std::streamsize>(sizeof m_buf)) {
            if (!flushBuffer() || !writeAll(s, static_cast<std::size_t>(n)))
                return 0;
            return n;
        }
        return std::streambuf::xsputn(s, n);
    }

private:
    bool writeAll(const char* p, std::size_t n) {
        while (n > 0) {
            ssize_t w = ::write(m_fd, p, n);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                m_error = errno;
                return false;
            }
            p += w;
            n -= static_cast<std::size_t>(w);
            m_written += static_cast<std::uint64_t>(w);
        }
        return true;
    }
    bool flushBuffer() {
        if (m_error)
            return false;
        auto n = static_cast<std::size_t>(pptr() - pbase());
        bool ok = writeAll(pbase(), n);
        setp(m_buf, m_buf + sizeof m_buf);
        return ok;
    }
    int m_fd;
    int m_error = 0;
    std::uint64_t m_written = 0;
    char m_buf[1 << 16];
};

AtomicFileWriter::AtomicFileWriter(const fs::path& target) : m_target(target) {
    std::error_code ec;
    if (fs::is_directory(target, ec))
        throw Error(target, "is a directory; choose a file name");
    m_dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    if (!fs::is_directory(m_dir, ec))
        throw Error(target, "the folder " + m_dir.string() + " does not exist");
    m_tmp = temporaryName(target.parent_path().empty() ? fs::path(".") / target : target);
    // Allocate first: nothing can throw once the file exists.
    m_buf = std::make_unique<Buffer>(-1);
    m_out = std::make_unique<std::ostream>(m_buf.get());
    m_fd = ::open(m_tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (m_fd < 0)
        throw Error(target, "cannot write: " + describeErrno(errno));
    m_buf->attach(m_fd);
}

AtomicFileWriter::~AtomicFileWriter() { abandon(); }

std::ostream& AtomicFileWriter::stream() { return *m_out; }

std::uint64_t AtomicFileWriter::size() { return m_buf ? m_buf->written() : 0; }

void AtomicFileWriter::abandon() noexcept {
    if (m_fd >= 0)
        ::close(m_fd);
    if (m_fd >= 0 || m_prepared)
        ::unlink(m_tmp.c_str());
    m_fd = -1;
    m_prepared = false;
    if (m_buf)
        m_buf->detach();
    if (m_out)
        m_out->setstate(std::ios::badbit);
}

void AtomicFileWriter::fail(int err, const char* what) {
    abandon();
    throw Error(m_target, std::string(what) + describeErrno(err) + " (the previous file, if any, is unchanged)");
}

void AtomicFileWriter::flushOrThrow() {
    if (m_fd < 0)
        throw Error(m_target, "cannot write: the file was already committed or abandoned");
    m_out->flush();
    if (!m_buf->flushAll() || m_buf->error() || !*m_out)
        fail(m_buf->error() ? m_buf->error() : EIO, "cannot write: ");
}

void AtomicFileWriter::checkWrites() {
    if (m_fd < 0)
        throw Error(m_target, "cannot write: the file was already committed or abandoned");
    if (m_buf->error())
        fail(m_buf->error(), "cannot write: ");
}

void AtomicFileWriter::overwrite(std::uint64_t offset, std::string_view bytes) {
    flushOrThrow();
    if (offset + bytes.size() > m_buf->written())
        throw Error(m_target, "internal error: overwriting bytes that were never written");
    const char* p = bytes.data();
    std::size_t n = bytes.size();
    auto at = static_cast<off_t>(offset);
    while (n > 0) {
        ssize_t w = ::pwrite(m_fd, p, n, at);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            fail(errno, "cannot write: ");
        }
        p += w;
        n -= static_cast<std::size_t>(w);
        at += w;
    }
}

void AtomicFileWriter::commit() {
    prepare();
    publish();
}

void AtomicFileWriter::prepare() {
    flushOrThrow();
    if (::fsync(m_fd) != 0)
        fail(errno, "cannot write: ");
    const int fd = m_fd;
    m_fd = -1;
    m_buf->detach();
    m_out->setstate(std::ios::badbit);
    if (::close(fd) != 0) {
        int err = errno;
        ::unlink(m_tmp.c_str());
        throw Error(m_target, "cannot write: " + describeErrno(err) + " (the previous file, if any, is unchanged)");
    }
    m_prepared = true;
}

void AtomicFileWriter::publish() {
    if (!m_prepared)
        throw Error(m_target, "internal error: publishing a file that was not prepared");
    m_prepared = false;
    if (::rename(m_tmp.c_str(), m_target.c_str()) != 0) {
        int err = errno;
        ::unlink(m_tmp.c_str());
        throw Error(m_target, "cannot replace: " + describeErrno(err));
    }
    // Make the rename itself durable.
    int dfd = ::open(m_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

void writeFileAtomically(const fs::path& target, const std::function<void(std::ostream&)>& produce) {
    AtomicFileWriter writer(target);
    produce(writer.stream()); // an exception abandons the temporary in the writer's destructor
    writer.commit();
}

void writeFileAtomically(const fs::path& target, std::string_view bytes) {
    writeFileAtomically(
        target, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

} // namespace vitrine::core::io
