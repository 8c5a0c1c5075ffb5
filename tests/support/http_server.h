#pragma once
// A small HTTP/1.1 server on 127.0.0.1 for the download tests (the machine has no internet):
// serves files from memory, honours "Range: bytes=N-", and misbehaves on request — slowly,
// truncated (the promised Content-Length is never reached), a connection reset mid-body, or a
// server that ignores ranges. One connection at a time, on its own thread. POSIX sockets only.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vitrine::testutil {

class HttpServer {
public:
    enum class Mode {
        Normal,
        Slow,        ///< 4 KiB every 20 ms
        Truncated,   ///< half the body, then a clean close
        Reset,       ///< half the body, then a TCP reset
        IgnoreRange, ///< always 200 with the whole body
    };

    HttpServer() {
        m_listen = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(m_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        if (::bind(m_listen, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(m_listen, 8) != 0)
            throw std::runtime_error("test HTTP server: cannot listen on 127.0.0.1");
        socklen_t len = sizeof addr;
        ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&addr), &len);
        m_port = ntohs(addr.sin_port);
        m_thread = std::thread([this] { loop(); });
    }
    ~HttpServer() {
        m_stop = true;
        m_thread.join();
        ::close(m_listen);
    }
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    int port() const { return m_port; }
    std::string base() const { return "http://127.0.0.1:" + std::to_string(m_port); }

    void serve(const std::string& path, std::string body, Mode mode = Mode::Normal) {
        std::lock_guard lock(m_mutex);
        m_files[path] = {std::move(body), mode};
    }
    void setMode(const std::string& path, Mode mode) {
        std::lock_guard lock(m_mutex);
        m_files[path].mode = mode;
    }
    /// The Range header of each request so far ("" when none), in order.
    std::vector<std::string> ranges() const {
        std::lock_guard lock(m_mutex);
        return m_ranges;
    }

private:
    struct File {
        std::string body;
        Mode mode = Mode::Normal;
    };

    void loop() {
        while (!m_stop) {
            pollfd p{m_listen, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0)
                continue;
            const int client = ::accept(m_listen, nullptr, nullptr);
            if (client < 0)
                continue;
            answer(client);
        }
    }

    static bool sendAll(int fd, const char* data, std::size_t n) {
        while (n > 0) {
            const auto sent = ::send(fd, data, n, MSG_NOSIGNAL);
            if (sent <= 0)
                return false;
            data += sent;
            n -= std::size_t(sent);
        }
        return true;
    }

    void answer(int fd) {
        std::string request;
        char buffer[4096];
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (request.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0)
                continue;
            const auto got = ::recv(fd, buffer, sizeof buffer, 0);
            if (got <= 0)
                break;
            request.append(buffer, std::size_t(got));
        }
        const auto sp1 = request.find(' ');
        const auto sp2 = request.find(' ', sp1 + 1);
        const std::string path = sp1 == std::string::npos ? "" : request.substr(sp1 + 1, sp2 - sp1 - 1);
        std::string range;
        for (const char* key : {"\r\nRange: ", "\r\nrange: "})
            if (auto at = request.find(key); at != std::string::npos)
                range = request.substr(at + 9, request.find("\r\n", at + 2) - at - 9);
        File file;
        bool found = false;
        {
            std::lock_guard lock(m_mutex);
            m_ranges.push_back(range);
            if (auto it = m_files.find(path); it != m_files.end()) {
                file = it->second;
                found = true;
            }
        }
        if (!found) {
            const std::string head = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            sendAll(fd, head.data(), head.size());
            ::close(fd);
            return;
        }
        std::size_t from = 0;
        if (!range.empty() && file.mode != Mode::IgnoreRange && range.rfind("bytes=", 0) == 0)
            from = std::stoull(range.substr(6));
        const std::size_t total = file.body.size();
        std::string head;
        if (from >= total && from > 0) {
            head = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" + std::to_string(total) +
                   "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            sendAll(fd, head.data(), head.size());
            ::close(fd);
            return;
        }
        if (from > 0)
            head = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(from) + "-" +
                   std::to_string(total - 1) + "/" + std::to_string(total) + "\r\n";
        else
            head = "HTTP/1.1 200 OK\r\n";
        head += "Content-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\nContent-Length: " +
                std::to_string(total - from) + "\r\nConnection: close\r\n\r\n";
        if (!sendAll(fd, head.data(), head.size())) {
            ::close(fd);
            return;
        }
        const char* body = file.body.data() + from;
        std::size_t left = total - from;
        if (file.mode == Mode::Truncated || file.mode == Mode::Reset)
            left /= 2;
        if (file.mode == Mode::Slow) {
            while (left > 0 && !m_stop) {
                const std::size_t n = std::min<std::size_t>(left, 4096);
                if (!sendAll(fd, body, n))
                    break;
                body += n;
                left -= n;
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        } else {
            sendAll(fd, body, left);
        }
        if (file.mode == Mode::Reset) {
            linger hard{1, 0}; // close() sends RST instead of FIN
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        } else {
            ::shutdown(fd, SHUT_WR);
            // Let the client read to the end before the socket goes.
            pollfd p{fd, POLLIN, 0};
            ::poll(&p, 1, 1000);
        }
        ::close(fd);
    }

    int m_listen = -1;
    int m_port = 0;
    std::atomic<bool> m_stop{false};
    std::thread m_thread;
    mutable std::mutex m_mutex;
    std::map<std::string, File> m_files;
    std::vector<std::string> m_ranges;
};

} // namespace vitrine::testutil
