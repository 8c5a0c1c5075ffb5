#include "core/model/torch_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <variant>

#include "core/common/error.h"

namespace vitrine::core::model {
namespace {

std::uint16_t le16(const unsigned char* p) { return std::uint16_t(p[0] | (p[1] << 8)); }
std::uint32_t le32(const unsigned char* p) {
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}
std::uint64_t le64(const unsigned char* p) { return std::uint64_t(le32(p)) | (std::uint64_t(le32(p + 4)) << 32); }

// ---------------------------------------------------------------- zip (stored entries)

/// The archive's stored entries by name, as views into its bytes. torch.save() stores every
/// entry uncompressed (and aligned); the names of compressed entries go to `compressedEntries`.
std::map<std::string, std::string_view> readZip(std::string_view bytes, const std::filesystem::path& name,
                                                std::set<std::string>* compressedEntries) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    auto fail = [&](const std::string& why) {
        throw Error(name, "not a valid PyTorch checkpoint archive (" + why + ")");
    };
    if (n < 22)
        fail("too short");
    // End of central directory: the last signature within the final 64 KiB + 22 bytes.
    std::size_t eocd = std::string_view::npos;
    for (std::size_t i = n - 22 + 1; i-- > (n > 65557 ? n - 65557 : 0);)
        if (le32(p + i) == 0x06054b50) {
            eocd = i;
            break;
        }
    if (eocd == std::string_view::npos)
        fail("no zip directory; the file may be truncated");
    std::uint64_t entries = le16(p + eocd + 10), cdSize = le32(p + eocd + 12), cdOffset = le32(p + eocd + 16);
    if (entries == 0xFFFF || cdSize == 0xFFFFFFFFu || cdOffset == 0xFFFFFFFFu) {
        // Zip64: the locator sits right before the end record.
        if (eocd < 20 || le32(p + eocd - 20) != 0x07064b50)
            fail("missing zip64 locator");
        const std::uint64_t at = le64(p + eocd - 12);
        if (at > n || n - at < 56 || le32(p + at) != 0x06064b50)
            fail("bad zip64 directory record");
        entries = le64(p + at + 32);
        cdSize = le64(p + at + 40);
        cdOffset = le64(p + at + 48);
    }
    if (cdOffset > n || cdSize > n - cdOffset || entries > cdSize / 46)
        fail("directory outside the file; it may be truncated");
    std::map<std::string, std::string_view> out;
    std::size_t at = static_cast<std::size_t>(cdOffset);
    const std::size_t cdEnd = static_cast<std::size_t>(cdOffset + cdSize);
    for (std::uint64_t e = 0; e < entries; ++e) {
        if (at + 46 > cdEnd || le32(p + at) != 0x02014b50)
            fail("bad directory entry");
        const unsigned method = le16(p + at + 10);
        std::uint64_t compressed = le32(p + at + 20), size = le32(p + at + 24), local = le32(p + at + 42);
        const std::size_t nameLen = le16(p + at + 28), extraLen = le16(p + at + 30), commentLen = le16(p + at + 32);
        if (at + 46 + nameLen + extraLen + commentLen > cdEnd)
            fail("bad directory entry");
        std::string entryName(bytes.substr(at + 46, nameLen));
        // Zip64 sizes/offsets in the extra field, for the values saturated above.
        for (std::size_t x = at + 46 + nameLen; x + 4 <= at + 46 + nameLen + extraLen;) {
            const unsigned id = le16(p + x), len = le16(p + x + 2);
            if (x + 4 + len > at + 46 + nameLen + extraLen)
                break;
            if (id == 0x0001) {
                std::size_t q = x + 4;
                const std::size_t qEnd = x + 4 + len;
                for (std::uint64_t* field : {&size, &compressed, &local})
                    if (*field == 0xFFFFFFFFu && q + 8 <= qEnd) {
                        *field = le64(p + q);
                        q += 8;
                    }
            }
            x += 4 + len;
        }
        at += 46 + nameLen + extraLen + commentLen;
        if (method != 0) {
            // torch.jit.save() deflates its code/ entries, which are never read; the pickle
            // and the storages are always stored.
            compressedEntries->insert(entryName);
            continue;
        }
        if (compressed != size)
            fail("entry '" + entryName + "' has inconsistent sizes");
        if (local > n || n - local < 30 || le32(p + local) != 0x04034b50)
            fail("entry '" + entryName + "' has no local header; the file may be truncated");
        const std::uint64_t data = local + 30 + le16(p + local + 26) + le16(p + local + 28);
        if (data > n || size > n - data)
            fail("entry '" + entryName + "' lies beyond the end of the file; it may be truncated");
        out[entryName] = bytes.substr(static_cast<std::size_t>(data), static_cast<std::size_t>(size));
    }
    return out;
}

// ---------------------------------------------------------------- the pickle machine

struct Value;
/// Values live in the machine's arena (a pickle can make cycles: a list holding itself).
using ValuePtr = Value*;

struct StorageRef {
    std::string dtype;
    std::string key;
    std::int64_t numel = 0;
};

struct Value {
    /// Object: an instance of a TorchScript class ("__torch__.…", in `s`) — only its
    /// attributes (in `dict`), set by BUILD; no code of it is ever run.
    enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Storage, Tensor, Object };
    Kind kind = Kind::None;
    std::int64_t i = 0;
    double f = 0;
    std::string s; ///< String, Bytes; Global: "module.name"
    std::vector<ValuePtr> items;
    std::vector<std::pair<ValuePtr, ValuePtr>> dict;
    StorageRef storage;
    PickledTensor tensor;
    std::string tensorStorageKey;
};

const std::map<std::string, std::string>& storageTypes() {
    static const std::map<std::string, std::string> m{{"torch.FloatStorage", "F32"},     {"torch.HalfStorage", "F16"},
                                                      {"torch.BFloat16Storage", "BF16"}, {"torch.DoubleStorage", "F64"},
                                                      {"torch.LongStorage", "I64"},      {"torch.IntStorage", "I32"},
                                                      {"torch.ShortStorage", "I16"},     {"torch.CharStorage", "I8"},
                                                      {"torch.ByteStorage", "U8"},       {"torch.BoolStorage", "BOOL"}};
    return m;
}

/// TorchScript class names ("__torch__.torch.nn.modules.linear.Linear"): records of
/// attributes to the reader, never looked up or called.
bool isScriptClass(const std::string& g) { return g.rfind("__torch__.", 0) == 0 && g.size() > 10; }

/// TorchScript's list builders: each returns its argument.
bool isScriptListBuilder(const std::string& g) {
    static const std::set<std::string> builders{
        "torch.jit._pickle.build_intlist",  "torch.jit._pickle.build_doublelist",
        "torch.jit._pickle.build_boollist", "torch.jit._pickle.build_tensorlist",
        "torch.jit._pickle.build_list",     "torch.jit._pickle.restore_type_tag"};
    return builders.count(g) > 0;
}

bool allowedGlobal(const std::string& g) {
    static const std::set<std::string> callables{"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                                 "torch._utils._rebuild_parameter",
                                                 "torch._utils._rebuild_parameter_with_state"};
    return callables.count(g) || storageTypes().count(g) || isScriptClass(g) || isScriptListBuilder(g);
}

class Unpickler {
public:
    ValuePtr make(Value::Kind k) {
        if (m_arena.size() > 50'000'000)
            fail("too many objects");
        m_arena.push_back(std::make_unique<Value>());
        m_arena.back()->kind = k;
        return m_arena.back().get();
    }

    Unpickler(std::string_view data, const std::filesystem::path& name)
        : m_p(reinterpret_cast<const unsigned char*>(data.data())), m_n(data.size()), m_name(name) {}

    ValuePtr run() {
        for (;;) {
            const unsigned char op = u8();
            switch (op) {
            case 0x80: u8(); break;    // PROTO
            case 0x95: take(8); break; // FRAME
            case '}': push(make(Value::Kind::Dict)); break;
            case ']': push(make(Value::Kind::List)); break;
            case ')': push(make(Value::Kind::Tuple)); break;
            case '(': m_marks.push_back(m_stack.size()); break;
            case 'q': memo(u8(), top()); break;
            case 'r': memo(u32(), top()); break;
            case 0x94: memo(static_cast<std::uint32_t>(m_memo.size()), top()); break; // MEMOIZE
            case 'h': push(recall(u8())); break;
            case 'j': push(recall(u32())); break;
            case 'c': {
                std::string module = line(), attr = line();
                push(global(module + "." + attr));
                break;
            }
            case 0x93: { // STACK_GLOBAL
                ValuePtr attr = pop(), module = pop();
                if (attr->kind != Value::Kind::String || module->kind != Value::Kind::String)
                    fail("STACK_GLOBAL needs two strings");
                push(global(module->s + "." + attr->s));
                break;
            }
            case 'J': pushInt(static_cast<std::int32_t>(u32())); break;
            case 'K': pushInt(u8()); break;
            case 'M': pushInt(le16(take(2))); break;
            case 0x8a: { // LONG1
                const unsigned len = u8();
                if (len > 8)
                    fail("integer wider than 64 bits");
                const unsigned char* b = take(len);
                std::uint64_t v = 0;
                for (unsigned k = 0; k < len; ++k)
                    v |= std::uint64_t(b[k]) << (8 * k);
                if (len > 0 && len < 8 && (b[len - 1] & 0x80))
                    v |= ~std::uint64_t(0) << (8 * len); // sign-extend
                pushInt(static_cast<std::int64_t>(v));
                break;
            }
            case 'X': pushString(Value::Kind::String, u32()); break;
            case 0x8c: pushString(Value::Kind::String, u8()); break;
            case 0x8d: pushString(Value::Kind::String, u64()); break;
            case 'T': pushString(Value::Kind::String, u32()); break;
            case 'U': pushString(Value::Kind::String, u8()); break;
            case 'B': pushString(Value::Kind::Bytes, u32()); break;
            case 'C': pushString(Value::Kind::Bytes, u8()); break;
            case 'G': {
                const unsigned char* b = take(8);
                std::uint64_t bits = 0;
                for (int k = 0; k < 8; ++k)
                    bits = (bits << 8) | b[k];
                auto v = make(Value::Kind::Float);
                std::memcpy(&v->f, &bits, 8);
                push(v);
                break;
            }
            case 'N': push(make(Value::Kind::None)); break;
            case 0x88:
            case 0x89: {
                auto v = make(Value::Kind::Bool);
                v->i = op == 0x88;
                push(v);
                break;
            }
            case 't': {
                auto v = make(Value::Kind::Tuple);
                v->items = popMark();
                push(v);
                break;
            }
            case 0x85:
            case 0x86:
            case 0x87: {
                auto v = make(Value::Kind::Tuple);
                const int count = op - 0x84;
                v->items.resize(std::size_t(count));
                for (int k = count - 1; k >= 0; --k)
                    v->items[std::size_t(k)] = pop();
                push(v);
                break;
            }
            case 'a': {
                ValuePtr item = pop();
                list(top())->items.push_back(item);
                break;
            }
            case 'e': {
                auto items = popMark();
                auto& l = list(top())->items;
                l.insert(l.end(), items.begin(), items.end());
                break;
            }
            case 's': {
                ValuePtr value = pop(), key = pop();
                dict(top())->dict.emplace_back(key, value);
                break;
            }
            case 'u': {
                auto items = popMark();
                if (items.size() % 2)
                    fail("SETITEMS with an odd number of items");
                auto& d = dict(top())->dict;
                for (std::size_t k = 0; k < items.size(); k += 2)
                    d.emplace_back(items[k], items[k + 1]);
                break;
            }
            case 'R': {
                ValuePtr args = pop(), callable = pop();
                push(reduce(callable, args));
                break;
            }
            case 0x81: { // NEWOBJ: only a TorchScript class, with no arguments: an empty record
                ValuePtr args = pop(), cls = pop();
                if (cls->kind != Value::Kind::Global || !isScriptClass(cls->s) || args->kind != Value::Kind::Tuple ||
                    !args->items.empty())
                    fail("NEWOBJ of something other than a TorchScript class");
                auto v = make(Value::Kind::Object);
                v->s = cls->s;
                push(v);
                break;
            }
            case 'b': { // BUILD: state for a dict (its _metadata), a parameter, or a TorchScript
                        // object's attributes (a dict); nothing to run
                ValuePtr state = pop();
                ValuePtr target = top();
                const auto k = target->kind;
                if (k == Value::Kind::Object) {
                    if (state->kind == Value::Kind::Dict)
                        target->dict.insert(target->dict.end(), state->dict.begin(), state->dict.end());
                    break; // other states (a custom class's __getstate__) hold no weights we read
                }
                if (k != Value::Kind::Dict && k != Value::Kind::Tensor)
                    fail("BUILD on something that is not a dict or a tensor");
                break;
            }
            case 'Q': push(persistent(pop())); break;
            case '.': {
                if (m_stack.empty())
                    fail("nothing on the stack at STOP");
                return m_stack.back();
            }
            default: {
                static const char* hex = "0123456789abcdef";
                fail(std::string("unsupported pickle opcode 0x") + hex[op >> 4] + hex[op & 15] +
                     " (not part of a state dict)");
            }
            }
        }
    }

    std::vector<std::string> storageKeysUsed;

private:
    [[noreturn]] void fail(const std::string& why) const {
        throw Error(m_name,
                    "cannot read the checkpoint's data.pkl: " + why + " (at byte " + std::to_string(m_pos) + ")");
    }
    const unsigned char* take(std::uint64_t count) {
        if (count > m_n - m_pos)
            fail("the pickle ends early");
        const unsigned char* at = m_p + m_pos;
        m_pos += static_cast<std::size_t>(count);
        return at;
    }
    unsigned u8() { return *take(1); }
    std::uint32_t u32() { return le32(take(4)); }
    std::uint64_t u64() { return le64(take(8)); }
    std::string line() {
        std::string s;
        for (;;) {
            const char c = static_cast<char>(u8());
            if (c == '\n')
                return s;
            if (s.size() > 256)
                fail("GLOBAL name too long");
            s += c;
        }
    }
    void push(ValuePtr v) {
        if (m_stack.size() > 1'000'000)
            fail("stack too deep");
        m_stack.push_back(v);
    }
    void pushInt(std::int64_t i) {
        auto v = make(Value::Kind::Int);
        v->i = i;
        push(v);
    }
    void pushString(Value::Kind kind, std::uint64_t len) {
        auto v = make(kind);
        const unsigned char* b = take(len);
        v->s.assign(reinterpret_cast<const char*>(b), static_cast<std::size_t>(len));
        push(v);
    }
    ValuePtr pop() {
        if (m_stack.empty() || (!m_marks.empty() && m_stack.size() <= m_marks.back()))
            fail("stack underflow");
        ValuePtr v = m_stack.back();
        m_stack.pop_back();
        return v;
    }
    ValuePtr top() {
        if (m_stack.empty())
            fail("stack underflow");
        return m_stack.back();
    }
    std::vector<ValuePtr> popMark() {
        if (m_marks.empty())
            fail("no MARK");
        const std::size_t at = m_marks.back();
        m_marks.pop_back();
        if (at > m_stack.size())
            fail("bad MARK");
        std::vector<ValuePtr> items(m_stack.begin() + static_cast<std::ptrdiff_t>(at), m_stack.end());
        m_stack.resize(at);
        return items;
    }
    void memo(std::uint32_t index, ValuePtr v) {
        if (m_memo.size() >= 10'000'000 && !m_memo.count(index))
            fail("too many memo entries");
        m_memo[index] = v;
    }
    ValuePtr recall(std::uint32_t index) {
        auto it = m_memo.find(index);
        if (it == m_memo.end())
            fail("memo index " + std::to_string(index) + " was never stored");
        return it->second;
    }
    Value* list(ValuePtr v) {
        if (v->kind != Value::Kind::List)
            fail("APPEND to something that is not a list");
        return v;
    }
    Value* dict(ValuePtr v) {
        if (v->kind != Value::Kind::Dict)
            fail("SETITEM on something that is not a dict");
        return v;
    }
    ValuePtr global(const std::string& name) {
        if (!allowedGlobal(name)) {
            throw Error(m_name, "refused: its pickle names the Python global '" + name +
                                    "', which a file of weights never needs (loading it could run code). Only "
                                    "state dicts (tensors in dicts, lists and tuples) are read.");
        }
        auto v = make(Value::Kind::Global);
        v->s = name;
        return v;
    }
    std::vector<std::int64_t> ints(ValuePtr v, const char* what) {
        if (v->kind != Value::Kind::Tuple && v->kind != Value::Kind::List)
            fail(std::string(what) + " is not a tuple");
        std::vector<std::int64_t> out;
        for (const auto& item : v->items) {
            if (item->kind != Value::Kind::Int)
                fail(std::string(what) + " holds a non-integer");
            out.push_back(item->i);
        }
        return out;
    }
    ValuePtr reduce(ValuePtr callable, ValuePtr args) {
        if (callable->kind != Value::Kind::Global || args->kind != Value::Kind::Tuple)
            fail("REDUCE needs a global and a tuple");
        const std::string& g = callable->s;
        const auto& a = args->items;
        if (g == "collections.OrderedDict") {
            if (!a.empty())
                fail("OrderedDict with arguments");
            return make(Value::Kind::Dict);
        }
        if (g == "torch._utils._rebuild_tensor_v2") {
            if (a.size() < 4 || a[0]->kind != Value::Kind::Storage || a[1]->kind != Value::Kind::Int)
                fail("bad _rebuild_tensor_v2 arguments");
            auto t = make(Value::Kind::Tensor);
            t->tensor.dtype = a[0]->storage.dtype;
            t->tensorStorageKey = a[0]->storage.key;
            t->tensor.offset = a[1]->i;
            t->tensor.shape = ints(a[2], "tensor size");
            t->tensor.stride = ints(a[3], "tensor stride");
            if (t->tensor.shape.size() != t->tensor.stride.size() || t->tensor.shape.size() > 16)
                fail("tensor size and stride differ in length");
            t->storage = a[0]->storage;
            return t;
        }
        if (isScriptListBuilder(g)) {
            if (a.empty())
                fail("'" + g + "' without an argument");
            return a[0];
        }
        if (g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state") {
            if (a.empty() || a[0]->kind != Value::Kind::Tensor)
                fail("bad _rebuild_parameter arguments");
            return a[0];
        }
        fail("'" + g + "' cannot be called"); // storage types and TorchScript classes are not callables
    }
    ValuePtr persistent(ValuePtr pid) {
        // ('storage', <storage type>, key, location, numel)
        if (pid->kind != Value::Kind::Tuple || pid->items.size() < 5 || pid->items[0]->kind != Value::Kind::String ||
            pid->items[0]->s != "storage" || pid->items[1]->kind != Value::Kind::Global ||
            pid->items[2]->kind != Value::Kind::String || pid->items[4]->kind != Value::Kind::Int)
            fail("a persistent id that is not a storage");
        auto type = storageTypes().find(pid->items[1]->s);
        if (type == storageTypes().end())
            fail("'" + pid->items[1]->s + "' is not a storage type");
        auto v = make(Value::Kind::Storage);
        v->storage = {type->second, pid->items[2]->s, pid->items[4]->i};
        if (v->storage.numel < 0)
            fail("negative storage size");
        return v;
    }

    const unsigned char* m_p;
    std::size_t m_n;
    std::size_t m_pos = 0;
    const std::filesystem::path& m_name;
    std::vector<ValuePtr> m_stack;
    std::vector<std::size_t> m_marks;
    std::unordered_map<std::uint32_t, ValuePtr> m_memo;
    std::vector<std::unique_ptr<Value>> m_arena;
};

/// The dict's entries when it is a state dict (string keys, every value a tensor).
bool isStateDict(const Value& v) {
    if (v.kind != Value::Kind::Dict || v.dict.empty())
        return false;
    return std::all_of(v.dict.begin(), v.dict.end(), [](const auto& kv) {
        return kv.first->kind == Value::Kind::String && kv.second->kind == Value::Kind::Tensor;
    });
}

} // namespace

std::size_t torchDtypeSize(const std::string& dtype) {
    if (dtype == "F64" || dtype == "I64")
        return 8;
    if (dtype == "F32" || dtype == "I32")
        return 4;
    if (dtype == "F16" || dtype == "BF16" || dtype == "I16")
        return 2;
    if (dtype == "I8" || dtype == "U8" || dtype == "BOOL")
        return 1;
    return 0;
}

bool looksLikeTorchFile(std::string_view bytes) {
    return (bytes.size() >= 4 && bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4)) ||
           (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x80 &&
            static_cast<unsigned char>(bytes[1]) >= 2 && static_cast<unsigned char>(bytes[1]) <= 5);
}

TorchCheckpoint parseTorchCheckpoint(std::string_view bytes, const std::filesystem::path& name) {
    if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x80)
        throw Error(name, "a PyTorch file in the legacy format (saved before PyTorch 1.6, or with "
                          "_use_new_zipfile_serialization=False), which is not read; re-save it with "
                          "torch.save(torch.load(f, map_location='cpu'), 'new.pth') under PyTorch 1.6 or later");
    if (bytes.size() < 4 || bytes.substr(0, 4) != std::string_view("PK\x03\x04", 4))
        throw Error(name, "not a PyTorch checkpoint (no zip archive signature)");
    std::set<std::string> compressed;
    const auto entries = readZip(bytes, name, &compressed);
    std::string prefix;
    std::string_view pickle;
    for (const auto& [entry, data] : entries)
        if (entry.size() >= 8 && entry.compare(entry.size() - 8, 8, "data.pkl") == 0 &&
            std::count(entry.begin(), entry.end(), '/') == 1) {
            prefix = entry.substr(0, entry.size() - 8);
            pickle = data;
        }
    if (pickle.empty()) {
        for (const auto& entry : compressed)
            if (entry.size() >= 8 && entry.compare(entry.size() - 8, 8, "data.pkl") == 0)
                throw Error(name,
                            "its data.pkl is compressed, which torch.save() never does; re-save the file with it");
        throw Error(name, "not a PyTorch checkpoint (the archive has no data.pkl)");
    }
    if (auto bo = entries.find(prefix + "byteorder"); bo != entries.end() && bo->second != "little")
        throw Error(name, "saved on a big-endian machine, which is not supported");

    Unpickler vm(pickle, name);
    Value* const root = vm.run();

    // The state dict: the top level, or inside a common wrapper; for a TorchScript archive
    // (torch.jit.save: a module object), its tensors under their attribute paths, which are
    // the names model.state_dict() gives them.
    const Value* found = nullptr;
    TorchCheckpoint out;
    if (root->kind == Value::Kind::Object) {
        ValuePtr flat = vm.make(Value::Kind::Dict);
        std::set<const Value*> seen;
        std::function<void(const Value&, const std::string&, int)> walk = [&](const Value& object,
                                                                              const std::string& prefix, int depth) {
            if (depth > 64 || !seen.insert(&object).second)
                return;
            for (const auto& [k, v] : object.dict) {
                if (k->kind != Value::Kind::String)
                    continue;
                if (v->kind == Value::Kind::Tensor) {
                    ValuePtr key = vm.make(Value::Kind::String);
                    key->s = prefix + k->s;
                    flat->dict.emplace_back(key, v);
                } else if (v->kind == Value::Kind::Object) {
                    walk(*v, prefix + k->s + ".", depth + 1);
                }
            }
        };
        walk(*root, "", 0);
        if (flat->dict.empty())
            throw Error(name, "a TorchScript archive of '" + root->s + "' without any tensors");
        found = flat;
        out.wrapper = "torchscript";
    } else if (isStateDict(*root)) {
        found = root;
    } else if (root->kind == Value::Kind::Dict) {
        for (const char* key : {"state_dict", "model", "teacher", "model_ema", "module", "student", "net", "network"}) {
            for (const auto& [k, v] : root->dict)
                if (!found && k->kind == Value::Kind::String && k->s == key && isStateDict(*v)) {
                    found = v;
                    out.wrapper = key;
                }
        }
        for (const auto& [k, v] : root->dict)
            if (k->kind == Value::Kind::String && k->s != out.wrapper)
                out.otherKeys.push_back(k->s);
    }
    if (!found) {
        std::string keys;
        for (const auto& k : out.otherKeys)
            keys += (keys.empty() ? "" : ", ") + k;
        throw Error(name, "no state dict found (a dict of tensors at the top level or under 'state_dict', 'model', "
                          "'teacher', 'model_ema', 'module' or 'student')" +
                              (keys.empty() ? std::string() : "; its top-level keys: " + keys));
    }
    for (const auto& [k, v] : found->dict) {
        PickledTensor t = v->tensor;
        const std::string storageEntry = prefix + "data/" + v->tensorStorageKey;
        auto it = entries.find(storageEntry);
        if (it == entries.end() && compressed.count(storageEntry))
            throw Error(name, "storage '" + v->tensorStorageKey + "' is compressed, which torch.save() never does");
        if (it == entries.end())
            throw Error(name, "tensor '" + k->s + "' points to storage '" + v->tensorStorageKey +
                                  "', which the archive lacks");
        const std::size_t elem = torchDtypeSize(t.dtype);
        if (v->storage.numel > static_cast<std::int64_t>(it->second.size() / std::max<std::size_t>(elem, 1)) ||
            it->second.size() != static_cast<std::size_t>(v->storage.numel) * elem)
            throw Error(name, "storage '" + v->tensorStorageKey + "' has " + std::to_string(it->second.size()) +
                                  " bytes, not the " + std::to_string(v->storage.numel) +
                                  " elements its tensors claim");
        // The elements the tensor touches must lie inside its storage.
        std::int64_t last = t.offset;
        bool empty = false;
        for (std::size_t d = 0; d < t.shape.size(); ++d) {
            if (t.shape[d] < 0 || t.stride[d] < 0 || t.shape[d] > (std::int64_t(1) << 40) ||
                t.stride[d] > (std::int64_t(1) << 40))
                throw Error(name, "tensor '" + k->s + "' has a negative or absurd size or stride");
            if (t.shape[d] == 0)
                empty = true;
            else
                last += (t.shape[d] - 1) * t.stride[d];
        }
        if (t.offset < 0 || (!empty && last >= v->storage.numel))
            throw Error(name, "tensor '" + k->s + "' reaches past the end of its storage");
        t.storage = it->second;
        if (!out.tensors.emplace(k->s, std::move(t)).second)
            throw Error(name, "tensor '" + k->s + "' appears twice");
    }
    return out;
}

} // namespace vitrine::core::model
