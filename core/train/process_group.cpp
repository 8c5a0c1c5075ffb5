// The one translation unit that sees c10d and Gloo (see distributed.h).
#include "core/train/distributed.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <sstream>

// LibTorch's CMake package defines USE_C10D_GLOO when LibTorch was built with Gloo (Debian's
// is); without it ProcessGroupGloo.hpp declares nothing.
#ifndef USE_C10D_GLOO
#error "this LibTorch was built without Gloo (USE_C10D_GLOO): training on several processes needs it"
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace vitrine::core::train {

namespace {

/// c10::Error's message without its C++ backtrace, on one line.
std::string shortMessage(const std::exception& e) {
    std::string m;
    if (const auto* c = dynamic_cast<const c10::Error*>(&e))
        m = c->what_without_backtrace();
    else
        m = e.what();
    if (auto nl = m.find('\n'); nl != std::string::npos)
        m.resize(nl);
    return m;
}

int envInt(const char* name, bool required, int fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) {
        if (required)
            throw Error(std::string(name) +
                        " is not set: a run on several processes needs MASTER_ADDR, "
                        "MASTER_PORT, WORLD_SIZE and RANK (as torchrun sets them), or use --nproc N");
        return fallback;
    }
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (end == v || *end != '\0' || x < 0 || x > 1000000)
        throw Error(std::string(name) + "='" + v + "' is not a non-negative whole number");
    return int(x);
}

bool isLoopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

class GlooGroup final : public ProcessGroup {
public:
    GlooGroup(const DistributedOptions& o) : m_options(o) {
        // A write to the socket of a rank that died must fail with EPIPE, which becomes the
        // RankLost that names it, not end this process without a word. (Python ignores
        // SIGPIPE, so PyTorch's own workers never see it.)
        std::signal(SIGPIPE, SIG_IGN);
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(o.timeout).count();
        try {
            c10d::TCPStoreOptions so;
            so.port = std::uint16_t(o.masterPort);
            so.isServer = o.rank == 0;
            so.numWorkers = std::size_t(o.worldSize);
            so.waitWorkers = true;
            so.timeout = o.timeout;
            auto store = c10::make_intrusive<c10d::TCPStore>(o.masterAddress, so);
            auto go = c10d::ProcessGroupGloo::Options::create(o.timeout);
            // GLOO_SOCKET_IFNAME picks the interface, as in PyTorch; a group on the loopback
            // address stays on it; otherwise the address this machine's host name resolves to.
            if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
                go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
            else if (isLoopback(o.masterAddress))
                go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
            else
                go->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
            go->threads = 2;
            m_group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.worldSize, go);
            m_store = store;
        } catch (const std::exception& e) {
            std::ostringstream m;
            m << "rank " << o.rank << " could not join the training group of " << o.worldSize << " at "
              << o.masterAddress << ":" << o.masterPort << " within " << seconds << " s (" << shortMessage(e)
              << "). Start every rank with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE and a different "
              << "RANK; rank 0 must be reachable at that address (set GLOO_SOCKET_IFNAME to the network "
              << "interface when the machines' host names resolve to a loopback address).";
            throw Error(m.str());
        }
    }

    int rank() const override { return m_options.rank; }
    int worldSize() const override { return m_options.worldSize; }

    void allreduceSum(at::Tensor& values) override { allreduce(values, c10d::ReduceOp::SUM, "all-reduce"); }
    void allreduceMin(at::Tensor& values) override { allreduce(values, c10d::ReduceOp::MIN, "all-reduce"); }
    void allreduceMax(at::Tensor& values) override { allreduce(values, c10d::ReduceOp::MAX, "all-reduce"); }

    void broadcastFromRank0(std::vector<at::Tensor>& tensors) override {
        if (tensors.empty())
            return;
        run("broadcast", [&] {
            c10d::BroadcastOptions bo;
            bo.rootRank = 0;
            bo.rootTensor = 0;
            for (auto& t : tensors) { // one tensor per call: Gloo's broadcast takes a single input
                std::vector<at::Tensor> one{t};
                m_group->broadcast(one, bo)->wait();
            }
        });
    }

    void barrier() override {
        run("barrier", [&] { m_group->barrier()->wait(); });
    }

private:
    void allreduce(at::Tensor& values, c10d::ReduceOp op, const char* what) {
        run(what, [&] {
            std::vector<at::Tensor> t{values};
            c10d::AllreduceOptions ao;
            ao.reduceOp = op;
            m_group->allreduce(t, ao)->wait();
        });
    }

    template <class F> void run(const char* what, F&& f) {
        try {
            f();
        } catch (const std::exception& e) {
            const int n = m_options.worldSize;
            std::ostringstream m;
            if (n == 2)
                m << "rank " << 1 - m_options.rank << " stopped responding";
            else
                m << "another rank stopped responding";
            m << " (the " << what << " on rank " << m_options.rank << " of " << n << " failed: " << shortMessage(e)
              << "); it exited, was killed or waited longer than the "
              << std::chrono::duration_cast<std::chrono::seconds>(m_options.timeout).count()
              << " s timeout (VITRINE_DIST_TIMEOUT). See that rank's own output for why.";
            throw RankLost(m.str());
        }
    }

    DistributedOptions m_options;
    c10::intrusive_ptr<c10d::Store> m_store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> m_group;
};

} // namespace

std::optional<DistributedOptions> distributedFromEnvironment() {
    const int world = envInt("WORLD_SIZE", false, 1);
    if (world <= 1)
        return std::nullopt;
    DistributedOptions o;
    o.worldSize = world;
    o.rank = envInt("RANK", true, 0);
    if (o.rank >= world)
        throw Error("RANK=" + std::to_string(o.rank) + " is outside 0 ... " + std::to_string(world - 1) +
                    " (WORLD_SIZE=" + std::to_string(world) + ")");
    const char* addr = std::getenv("MASTER_ADDR");
    if (!addr || !*addr)
        envInt("MASTER_ADDR", true, 0); // throws the message that names the variables
    o.masterAddress = addr;
    o.masterPort = envInt("MASTER_PORT", true, 0);
    if (o.masterPort < 1 || o.masterPort > 65535)
        throw Error("MASTER_PORT=" + std::to_string(o.masterPort) + " is not a TCP port (1 ... 65535)");
    if (const int t = envInt("VITRINE_DIST_TIMEOUT", false, 0); t > 0)
        o.timeout = std::chrono::seconds(t);
    return o;
}

std::shared_ptr<ProcessGroup> connectProcessGroup(const DistributedOptions& options) {
    TORCH_CHECK(options.worldSize >= 1 && options.rank >= 0 && options.rank < options.worldSize, "rank ", options.rank,
                " outside world size ", options.worldSize);
    return std::make_shared<GlooGroup>(options);
}

int freeLocalPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        throw Error("cannot open a socket to find a free port");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    ::close(fd);
    if (!ok)
        throw Error("cannot bind a socket on 127.0.0.1 to find a free port");
    return ntohs(a.sin_port);
}

} // namespace vitrine::core::train
