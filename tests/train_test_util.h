#pragma once
// Shared by the training tests: a tiny ViT checkpoint (trains in milliseconds per step)
// and small data sets built from the demo photos with symlinks.

#include <filesystem>
#include <string>
#include <vector>

#include "core/model/checkpoint.h"
#include "core/model/vit_config.h"
#include "tests/support/temp_dir.h"

namespace vitrine::testutil {

namespace fs = std::filesystem;

/// Writes a 2-block, 32-wide ViT for 32×32 images (patch 8) with a 16-d head to `file`.
inline fs::path writeTinyModel(const fs::path& file) {
    core::model::VitConfig c;
    c.name = "test-tiny";
    c.imageSize = 32;
    c.patchSize = 8;
    c.dim = 32;
    c.depth = 2;
    c.heads = 2;
    c.embedDim = 16;
    torch::manual_seed(0);
    core::model::Vit vit(c);
    core::model::saveCheckpoint(file, *vit);
    return file;
}

/// Symlinks the first `perClass` photos of each `species/breed` pair into `root`.
inline void linkDemoSubset(const fs::path& root, const std::vector<std::string>& classDirs, int perClass) {
    const fs::path demo = VITRINE_TEST_DATA;
    for (const auto& dir : classDirs) {
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(demo / dir))
            if (e.is_regular_file() && e.path().extension() == ".jpg")
                files.push_back(e.path());
        std::sort(files.begin(), files.end());
        fs::create_directories(root / dir);
        for (int i = 0; i < perClass && i < int(files.size()); ++i)
            fs::create_symlink(files[std::size_t(i)], root / dir / files[std::size_t(i)].filename());
    }
}

/// 4 breeds (2 cats, 2 dogs) × `perClass` photos.
inline void linkFourBreeds(const fs::path& root, int perClass) {
    std::vector<std::string> dirs;
    const fs::path demo = VITRINE_TEST_DATA;
    for (const char* species : {"cat", "dog"}) {
        std::vector<std::string> breeds;
        for (const auto& e : fs::directory_iterator(demo / species))
            if (e.is_directory())
                breeds.push_back(std::string(species) + "/" + e.path().filename().string());
        std::sort(breeds.begin(), breeds.end());
        dirs.insert(dirs.end(), breeds.begin(), breeds.begin() + 2);
    }
    linkDemoSubset(root, dirs, perClass);
}

} // namespace vitrine::testutil
