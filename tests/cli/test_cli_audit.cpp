#include <catch2/catch.hpp>

#include "cli_run.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "../support/temp_dir.h"
#include "core/data/dataset.h"
#include "core/image/decode.h"
#include "core/io/atomic_file.h"
#include "core/io/npy.h"

using vitrine::testutil::cli;
using vitrine::testutil::q;
using vitrine::testutil::TempDir;
namespace fs = std::filesystem;

namespace {

/// The demo photos of one breed folder, sorted by name.
std::vector<fs::path> photos(const std::string& breed) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(fs::path(VITRINE_TEST_DATA) / breed))
        if (e.path().extension() == ".jpg")
            out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> breeds(const std::string& species) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(fs::path(VITRINE_TEST_DATA) / species))
        if (e.is_directory())
            out.push_back(species + "/" + e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

/// A cat/dog data set of 41 real photos with planted problems, and what was planted.
struct Planted {
    fs::path root;
    std::set<std::string> byteCopy, pixelCopy, resized; ///< each one duplicate group
    std::set<std::string> mislabels;                    ///< in the other species' folder
    std::set<std::string> unrelated;                    ///< synthetic images
};

Planted plant(const fs::path& root) {
    Planted p;
    p.root = root;
    fs::create_directories(root / "cat");
    fs::create_directories(root / "dog");
    std::vector<std::string> cats, dogs;
    for (const auto& species : {"cat", "dog"}) {
        const auto b = breeds(species);
        for (std::size_t i = 0; i < 8; ++i) {
            const auto files = photos(b[i]);
            for (std::size_t j = 0; j < 2; ++j) {
                const auto rel = std::string(species) + "/" + files[j].filename().string();
                fs::copy_file(files[j], root / rel);
                (species == std::string("cat") ? cats : dogs).push_back(rel);
            }
            // Mislabels: the third photo of two cat breeds goes to dog/, of one dog breed to cat/.
            if ((species == std::string("cat") && (i == 1 || i == 5)) || (species == std::string("dog") && i == 3)) {
                const auto rel = std::string(species == std::string("cat") ? "dog/" : "cat/") +
                                 files[2].filename().string();
                fs::copy_file(files[2], root / rel);
                p.mislabels.insert(rel);
            }
        }
    }
    // A byte copy under a new name, in the other split (so it also leaks).
    const std::string original = cats[0];
    for (int n = 1;; ++n) {
        const std::string copy = "cat/copy_" + std::to_string(n) + ".jpg";
        if (vitrine::core::data::isValidation(copy) != vitrine::core::data::isValidation(original)) {
            fs::copy_file(root / original, root / copy);
            p.byteCopy = {original, copy};
            break;
        }
    }
    // The same pixels in another format: decoded as Vitrine decodes, saved losslessly.
    {
        cv::Mat rgb = vitrine::core::image::decodeRgb(root / dogs[0]), bgr;
        cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
        const std::string png = "dog/" + fs::path(dogs[0]).stem().string() + "_lossless.png";
        REQUIRE(cv::imwrite((root / png).string(), bgr));
        p.pixelCopy = {dogs[0], png};
    }
    // A resized, re-encoded copy.
    {
        cv::Mat img = cv::imread((root / dogs[4]).string()), small;
        cv::resize(img, small, {}, 0.6, 0.6, cv::INTER_AREA);
        const std::string jpg = "dog/" + fs::path(dogs[4]).stem().string() + "_small.jpg";
        REQUIRE(cv::imwrite((root / jpg).string(), small, {cv::IMWRITE_JPEG_QUALITY, 90}));
        p.resized = {dogs[4], jpg};
    }
    // Unrelated images: noise, a colour gradient, stripes.
    {
        cv::Mat noise(300, 400, CV_8UC3), gradient(300, 400, CV_8UC3),
            stripes(300, 400, CV_8UC3, cv::Scalar(20, 20, 20));
        cv::theRNG().state = 7;
        cv::randu(noise, 0, 255);
        for (int y = 0; y < gradient.rows; ++y)
            for (int x = 0; x < gradient.cols; ++x)
                gradient.at<cv::Vec3b>(y, x) = {static_cast<uchar>(x * 255 / 400), static_cast<uchar>(y * 255 / 300),
                                                128};
        for (int x = 0; x < stripes.cols; x += 40)
            cv::rectangle(stripes, {x, 0}, {x + 19, 299}, cv::Scalar(0, 220, 255), cv::FILLED);
        REQUIRE(cv::imwrite((root / "cat/noise.png").string(), noise));
        REQUIRE(cv::imwrite((root / "cat/gradient.png").string(), gradient));
        REQUIRE(cv::imwrite((root / "cat/stripes.png").string(), stripes));
        p.unrelated = {"cat/noise.png", "cat/gradient.png", "cat/stripes.png"};
    }
    return p;
}

std::set<std::string> pathsOf(const nlohmann::json& group) {
    std::set<std::string> out;
    for (const auto& p : group.at("paths"))
        out.insert(p.get<std::string>());
    return out;
}

/// Every planted problem at the top of its list.
void checkFindsPlanted(const nlohmann::json& j, const Planted& p) {
    INFO(j.dump(1));
    // Duplicates: the two exact groups first, then the resized copy as the closest near group.
    const auto& dups = j.at("duplicates");
    REQUIRE(dups.size() >= 3);
    std::set<std::set<std::string>> exact{pathsOf(dups[0]), pathsOf(dups[1])};
    CHECK(dups[0].at("exact").get<bool>());
    CHECK(dups[1].at("exact").get<bool>());
    CHECK(exact == std::set<std::set<std::string>>{p.byteCopy, p.pixelCopy});
    CHECK_FALSE(dups[2].at("exact").get<bool>());
    const auto near = pathsOf(dups[2]);
    CHECK(std::includes(near.begin(), near.end(), p.resized.begin(), p.resized.end()));
    CHECK(dups[2].at("distance").get<double>() <= j.at("near_duplicate_distance").get<double>());
    // Leakage: the byte copy is in the other split.
    const auto& leaks = j.at("leakage");
    REQUIRE(!leaks.empty());
    CHECK(pathsOf(leaks[0]) == p.byteCopy);
    CHECK(leaks[0].at("labels") == nlohmann::json({"cat", "cat"}));
    // Mislabels: the three moved photos first, with the right suggestion.
    const auto& mis = j.at("mislabels");
    REQUIRE(mis.size() >= 3);
    std::set<std::string> top;
    for (int i = 0; i < 3; ++i) {
        const auto path = mis[i].at("path").get<std::string>();
        top.insert(path);
        CHECK(mis[i].at("label") == path.substr(0, 3));
        CHECK(mis[i].at("suggested") == (path.substr(0, 3) == "cat" ? "dog" : "cat"));
        CHECK(mis[i].at("score").get<double>() > 0.5);
        CHECK(mis[i].at("score").get<double>() <= 1.0);
    }
    CHECK(top == p.mislabels);
    // Outliers: the synthetic images first.
    const auto& out = j.at("outliers");
    REQUIRE(out.size() >= 3);
    std::set<std::string> odd;
    for (int i = 0; i < 3; ++i)
        odd.insert(out[i].at("path").get<std::string>());
    CHECK(odd == p.unrelated);
}

} // namespace

// The pretrained backbone (vit-tiny-16-augreg): the pet-trained head of `default` maps even
// noise near the pets, so unrelated images stand out less there.
TEST_CASE("audit finds every planted problem in real photos, from the model or from saved embeddings", "[cli][audit]") {
    TempDir tmp("cli-audit");
    const auto p = plant(tmp / "pets");
    const auto data = q(p.root);

    auto emb = cli("--threads 2 embed --model vit-tiny-16-augreg --data " + data + " --out " + q(tmp / "e.npy") +
                       " --label-level 0",
                   tmp.path);
    INFO(emb.err);
    REQUIRE(emb.code == 0);

    auto r = cli("--threads 2 audit --data " + data + " --embeddings " + q(tmp / "e.npy") + " --json", tmp.path);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out); // exactly one object: parse() refuses trailing text
    CHECK(j.at("images") == 41);
    CHECK(j.at("threshold_from_data").get<bool>());
    checkFindsPlanted(j, p);

    // The table names the same findings.
    auto table = cli("audit --data " + data + " --embeddings " + q(tmp / "e.npy") + " --top 5", tmp.path);
    REQUIRE(table.code == 0);
    CHECK(table.out.find("Duplicates: ") != std::string::npos);
    CHECK(table.out.find("exact  ") != std::string::npos);
    CHECK(table.out.find(*p.mislabels.begin()) != std::string::npos);
    CHECK(table.out.find("cat -> dog") != std::string::npos);
    CHECK(table.out.find("cat/noise.png") != std::string::npos);
    CHECK(table.out.find("most isolated") != std::string::npos);
    CHECK(table.out.find("half the median nearest-neighbour distance") != std::string::npos);

    // Embedding with the model inside audit gives the same findings.
    auto direct = cli("--threads 2 audit --model vit-tiny-16-augreg --data " + data + " --label-level 0 --json",
                      tmp.path);
    INFO(direct.err);
    REQUIRE(direct.code == 0);
    checkFindsPlanted(nlohmann::json::parse(direct.out), p);
}

TEST_CASE("audit fails with a message on a missing folder or mismatched embeddings", "[cli][audit]") {
    TempDir tmp("cli-audit-errors");
    auto r = cli("audit --data " + q(tmp / "nope") + " --json", tmp.path);
    CHECK(r.code == 1);
    CHECK(r.err.find("nope") != std::string::npos);
    CHECK(r.out.empty());

    // Three embeddings, two rows of metadata.
    fs::create_directories(tmp / "data/cat");
    vitrine::core::io::writeNpyMatrix(tmp / "e.npy", vitrine::core::Matrix(3, 4, 1.0f));
    vitrine::core::io::writeFileAtomically(tmp / "e.npy.rows.tsv", "path\tlabel\ncat/a.jpg\tcat\ncat/b.jpg\tcat\n");
    r = cli("audit --data " + q(tmp / "data") + " --embeddings " + q(tmp / "e.npy") + " --json", tmp.path);
    CHECK(r.code == 1);
    CHECK(r.err.find("rows.tsv") != std::string::npos);
    CHECK(r.out.empty());
}
