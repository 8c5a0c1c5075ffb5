#pragma once
// One entry per fuzz target: feeds `bytes` to a parser exactly as user input would reach
// it. A core::Error is the expected answer to bad input and is swallowed; anything else
// (another exception, an invariant broken, a sanitizer report) escapes, so libFuzzer
// reports a crash and the [fuzz-replay] Catch2 test fails. Shared by tests/fuzz/fuzz_main.cpp
// and tests/core/test_fuzz_replay.cpp, which replays the corpus and regressions in CI.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/image/codecs.h"
#include "core/image/decode.h"
#include "core/image/image_probe.h"
#include "core/io/csv.h"
#include "core/io/npy.h"
#include "core/io/row_table.h"
#include "core/io/safetensors_format.h"
#include "core/model/checkpoint_metadata.h"
#include "core/model/torch_checkpoint.h"
#include "core/model/vit_config.h"

namespace vitrine::fuzz {

inline void require(bool ok, const char* what) {
    if (!ok)
        throw std::logic_error(std::string("fuzz invariant broken: ") + what);
}

inline void fuzz_safetensors(std::string_view bytes) {
    try {
        core::io::SafetensorsReadOptions options;
        options.maxHeaderBytes = 1 << 20;
        const auto h = core::io::parseSafetensorsHeader(bytes, "fuzz.safetensors", options);
        std::uint64_t pos = 0;
        for (const auto& e : h.entries) {
            require(e.begin == pos && e.end >= e.begin, "entries are contiguous");
            std::uint64_t n = core::io::safetensorsDtypeSize(e.dtype);
            for (auto d : e.shape)
                n *= static_cast<std::uint64_t>(d);
            require(n == e.end - e.begin, "byte range matches shape x dtype");
            pos = e.end;
        }
        require(h.dataStart + pos == bytes.size(), "data ends at the end of the file");
    } catch (const core::Error&) {
    }
}

inline void fuzz_safetensors_matrices(std::string_view bytes) {
    try {
        std::map<std::string, std::string> metadata;
        for (const auto& [name, m] : core::io::parseSafetensorsMatrices(bytes, "fuzz.safetensors", &metadata))
            require(m.rows >= 0 && m.cols >= 0 && m.data.size() == static_cast<std::size_t>(m.rows * m.cols),
                    "matrix size matches its shape");
    } catch (const core::Error&) {
    }
}

inline void fuzz_image(std::string_view bytes) {
    // OpenCV's own pixel limit, so the unguarded library calls below stay small.
    static const bool limited = ::setenv("OPENCV_IO_MAX_IMAGE_PIXELS", "4000000", 0) == 0;
    (void)limited;
    std::string why;
    core::image::Refusal refusal = core::image::Refusal::None;
    const auto whole = core::image::probeImage(bytes, /*wholeFile=*/true, &why, &refusal);
    const auto head = core::image::probeImage(bytes.substr(0, 4096), /*wholeFile=*/false, &why);
    if (whole && head)
        require(whole->format == head->format, "the first 4 KB and the whole file probe as the same format");
    if (whole) {
        require(whole->width >= 0 && whole->height >= 0, "probed size is not negative");
        require(whole->exifOrientation >= 1 && whole->exifOrientation <= 8, "orientation in 1..8");
        require(whole->sizeKnown, "the whole file gives the size");
    } else {
        require(refusal != core::image::Refusal::None, "a refusal says its kind");
    }
    core::image::DecodeOptions options;
    options.maxPixels = 4'000'000; // keeps each run small; the limit itself is under test too
    options.minShortSide = bytes.empty() ? 0 : static_cast<unsigned char>(bytes.back()) % 3 * 32;
    bool decoded = false;
    try {
        const cv::Mat rgb = core::image::decodeRgbFromMemory(bytes, "fuzz.img", options);
        require(!rgb.empty() && rgb.type() == CV_8UC3, "decoded image is non-empty 8-bit RGB");
        require(static_cast<std::int64_t>(rgb.total()) <= options.maxPixels, "decoded within the pixel limit");
        decoded = true;
    } catch (const core::Error&) {
    }
    require(!decoded || (whole && whole->complete), "only what the probe accepts decodes");
    // Being safe must not cost valid photos: a header the probe calls corrupt or
    // unsupported is one the format's own library refuses too.
    const auto format = core::image::sniffFormat(bytes);
    if (!whole && format != core::image::Format::Unknown &&
        (refusal == core::image::Refusal::Corrupt || refusal == core::image::Refusal::Unsupported)) {
        core::image::LibraryDecodeOptions library;
        library.maxPixels = options.maxPixels;
        bool libraryReads = false;
        try {
            (void)core::image::decodeWithLibrary(format, bytes, library);
            libraryReads = true;
        } catch (const std::exception&) {
        }
        require(!libraryReads, "the probe refused (corrupt/unsupported) a file its library decodes");
    }
}

inline void fuzz_torch_checkpoint(std::string_view bytes) {
    try {
        const auto ck = core::model::parseTorchCheckpoint(bytes, "fuzz.pth");
        for (const auto& [name, t] : ck.tensors) {
            const std::size_t elem = core::model::torchDtypeSize(t.dtype);
            require(elem > 0, "a known dtype");
            require(t.shape.size() == t.stride.size(), "one stride per dimension");
            std::int64_t last = t.offset;
            bool empty = false;
            for (std::size_t d = 0; d < t.shape.size(); ++d) {
                if (t.shape[d] == 0)
                    empty = true;
                else
                    last += (t.shape[d] - 1) * t.stride[d];
            }
            require(empty ||
                        (last + 1) * static_cast<std::int64_t>(elem) <= static_cast<std::int64_t>(t.storage.size()),
                    "every element lies inside its storage");
            require(t.storage.data() >= bytes.data() &&
                        t.storage.data() + t.storage.size() <= bytes.data() + bytes.size(),
                    "storages are views into the file");
        }
    } catch (const core::Error&) {
    }
}

inline void fuzz_npy(std::string_view bytes) {
    try {
        const auto m = core::io::parseNpy(bytes, "fuzz.npy");
        require(m.rows >= 0 && m.cols >= 0 && m.data.size() == static_cast<std::size_t>(m.rows * m.cols),
                "matrix size matches its shape");
    } catch (const core::Error&) {
    }
}

inline void fuzz_row_table(std::string_view bytes) {
    try {
        const auto t = core::io::parseRowTable(bytes, "fuzz.rows.tsv");
        for (const auto& r : t.rows)
            require(r.size() == t.columns.size(), "every row has one field per column");
        // A one-column table cannot tell an empty last row from a trailing blank line.
        if (t.columns.size() >= 2) {
            const auto again = core::io::parseRowTable(core::io::formatRowTable(t), "fuzz.rows.tsv");
            require(again.columns == t.columns && again.rows == t.rows, "TSV format/parse round trip");
        }
    } catch (const core::Error&) {
    }
    try {
        const auto records = core::io::parseCsv(bytes, "fuzz.csv");
        // A record of one empty field is an empty line, which the parser skips.
        const bool representable = std::none_of(
            records.begin(), records.end(), [](const auto& r) { return r.empty() || (r.size() == 1 && r[0].empty()); });
        if (representable) {
            std::string text;
            for (const auto& r : records) {
                for (std::size_t i = 0; i < r.size(); ++i)
                    text += (i ? "," : "") + core::io::csvField(r[i]);
                text += "\r\n";
            }
            require(core::io::parseCsv(text, "fuzz.csv") == records, "CSV format/parse round trip");
        }
    } catch (const core::Error&) {
    }
}

/// Input: the JSON text of a checkpoint's __metadata__ object (string values, as stored).
inline void fuzz_checkpoint_metadata(std::string_view bytes) {
    const auto j = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object())
        return;
    std::map<std::string, std::string> stored;
    for (auto it = j.begin(); it != j.end(); ++it)
        stored[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
    const auto metadata = core::model::parseCheckpointMetadata(stored);
    if (metadata.contains("config")) {
        try {
            const auto cfg = core::model::VitConfig::fromJson(metadata["config"]);
            const auto again = core::model::VitConfig::fromJson(cfg.toJson());
            require(again.imageSize == cfg.imageSize && again.patchSize == cfg.patchSize && again.dim == cfg.dim &&
                        again.depth == cfg.depth && again.heads == cfg.heads && again.embedDim == cfg.embedDim,
                    "config JSON round trip");
        } catch (const core::Error&) {
        }
    }
    try {
        const auto state = core::model::parseTrainingState(metadata, "fuzz.safetensors");
        require(state.step >= 0, "step is not negative");
        for (const auto& [name, steps] : state.optimizerSteps)
            require(steps >= 0, "optimizer steps are not negative");
    } catch (const core::Error&) {
    }
}

} // namespace vitrine::fuzz
