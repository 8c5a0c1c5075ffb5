#pragma once
// Real pet photos from the bundled demo set for the tests: the first few of a breed, and
// small cat/dog data sets built from them in a temporary folder.

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace vitrine::testutil {

/// The first `n` photos (sorted by name) under a demo class folder, e.g. "dog/beagle".
inline std::vector<std::filesystem::path> demoPhotos(const char* folder, std::size_t n) {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(VITRINE_TEST_DATA) / folder))
        out.push_back(e.path());
    std::sort(out.begin(), out.end());
    out.resize(std::min(n, out.size()));
    return out;
}

/// `parent`/pets: `perBreed` photos of four cat breeds (Bengal, Birman, Persian, Siamese) in
/// cat/ and of four dog breeds (beagle, pug, boxer, samoyed) in dog/, named c0.jpg, c1.jpg, …
/// then d<k>.jpg with k counting on from the cats.
inline std::filesystem::path makePets(const std::filesystem::path& parent, std::size_t perBreed) {
    std::filesystem::path root = parent / "pets";
    std::filesystem::create_directories(root / "cat");
    std::filesystem::create_directories(root / "dog");
    int i = 0;
    for (const char* breed : {"cat/Bengal", "cat/Birman", "cat/Persian", "cat/Siamese"})
        for (const auto& p : demoPhotos(breed, perBreed))
            std::filesystem::copy_file(p, root / "cat" / ("c" + std::to_string(i++) + ".jpg"));
    for (const char* breed : {"dog/beagle", "dog/pug", "dog/boxer", "dog/samoyed"})
        for (const auto& p : demoPhotos(breed, perBreed))
            std::filesystem::copy_file(p, root / "dog" / ("d" + std::to_string(i++) + ".jpg"));
    return root;
}

} // namespace vitrine::testutil
