#include "core/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "core/common/error.h"

namespace vitrine::core::io {
namespace fs = std::filesystem;

namespace {

std::string describeErrno(int err) {
    switch (err) {
    case ENOSPC:
        return "the disk is full; free some space and try again";
    case EFBIG:
        return "the file is too large for this file system (or the process's file size limit)";
    case EACCES:
    case EPERM:
        return "permission denied; choose a folder you can write to";
    case EROFS:
        return "the file system is read-only; choose another folder";
    case EISDIR:
        return "the target is a directory; choose a file name";
    case ENOENT:
        return "the folder does not exist";
    default:
        return std::strerror(err);
    }
}

fs::path temporaryName(const fs::path& target) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::ostringstream name;
    name << '.' << target.filename().string() << ".tmp-" << std::hex << rng();
    return target.parent_path() / name.str();
}

/// A streambuf that writes straight to a file descriptor and remembers the first errno.
class FdBuf : public std::streambuf {
public:
    explicit FdBuf(int fd) : m_fd(fd) { setp(m_buf, m_buf + sizeof m_buf); }
    int error() const { return m_error; }
    bool flushAll() { return flushBuffer(); }

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
    char m_buf[1 << 16];
};

} // namespace

void writeFileAtomically(const fs::path& target, const std::function<void(std::ostream&)>& produce) {
    std::error_code ec;
    if (fs::is_directory(target, ec))
        throw Error(target, "is a directory; choose a file name");
    fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    if (!fs::is_directory(dir, ec))
        throw Error(target, "the folder " + dir.string() + " does not exist");

    const fs::path tmp = temporaryName(target.parent_path().empty() ? fs::path(".") / target : target);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        throw Error(target, "cannot write: " + describeErrno(errno));

    auto fail = [&](const std::string& why) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw Error(target, "cannot write: " + why + " (the previous file, if any, is unchanged)");
    };

    FdBuf buf(fd);
    std::ostream out(&buf);
    try {
        produce(out);
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    out.flush();
    if (!buf.flushAll() || buf.error() || !out)
        fail(describeErrno(buf.error() ? buf.error() : EIO));
    if (::fsync(fd) != 0)
        fail(describeErrno(errno));
    if (::close(fd) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw Error(target, "cannot write: " + describeErrno(err));
    }
    if (::rename(tmp.c_str(), target.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw Error(target, "cannot replace: " + describeErrno(err));
    }
    // Make the rename itself durable.
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

void writeFileAtomically(const fs::path& target, std::string_view bytes) {
    writeFileAtomically(target, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

std::string readFile(const fs::path& file, std::size_t maxBytes) {
    std::error_code ec;
    if (fs::is_directory(file, ec))
        throw Error(file, "is a folder, not a file");
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw Error(file, std::string("cannot open: ") + std::strerror(errno));
    in.seekg(0, std::ios::end);
    auto size = static_cast<std::streamoff>(in.tellg());
    if (size < 0)
        throw Error(file, "cannot read its size");
    if (static_cast<std::size_t>(size) > maxBytes)
        throw Error(file, "is too large (" + std::to_string(size) + " bytes)");
    in.seekg(0);
    std::string data(static_cast<std::size_t>(size), '\0');
    in.read(data.data(), size);
    if (in.gcount() != size)
        throw Error(file, "could not be read completely (was it changed or removed while reading?)");
    return data;
}

} // namespace vitrine::core::io
