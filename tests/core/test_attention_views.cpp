// Patch-token views (norms, PCA colours, similarity) and the heatmap renderer.
#include <catch2/catch.hpp>

#include <random>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/analysis/heatmap.h"
#include "core/analysis/patch_tokens.h"
#include "core/common/error.h"
#include "core/image/decode.h"

using namespace vitrine::core::analysis;

namespace {

cv::Mat randomTokens(int n, int d, unsigned seed) {
    cv::Mat t(n, d, CV_32F);
    cv::RNG rng(seed);
    rng.fill(t, cv::RNG::NORMAL, 0.0, 1.0);
    return t;
}

// Object patches in the middle of the grid share one direction, the border another.
cv::Mat objectOnBackground(int grid, int d, unsigned seed, cv::Mat* objectMask) {
    cv::Mat t = randomTokens(grid * grid, d, seed) * 0.2;
    *objectMask = cv::Mat::zeros(grid, grid, CV_8U);
    for (int p = 0; p < grid * grid; ++p) {
        const int r = p / grid, c = p % grid;
        const bool object = r >= grid / 4 && r < grid - grid / 4 && c >= grid / 4 && c < grid - grid / 4;
        objectMask->at<unsigned char>(r, c) = object ? 255 : 0;
        t.at<float>(p, object ? 0 : 1) += 3.f;
        if (object) // structure inside the object for the colour components to show
            t.at<float>(p, 2 + (c % 3)) += 1.5f;
    }
    return t;
}

} // namespace

TEST_CASE("token norms are the L2 norm of each patch, laid out row-major", "[attention]") {
    cv::Mat t = cv::Mat::zeros(4, 2, CV_32F);
    t.at<float>(1, 0) = 3.f;
    t.at<float>(1, 1) = 4.f;
    t.at<float>(2, 1) = -2.f;
    const cv::Mat n = tokenNorms(t, 2);
    REQUIRE(n.size() == cv::Size(2, 2));
    REQUIRE(n.at<float>(0, 1) == Approx(5.0));
    REQUIRE(n.at<float>(1, 0) == Approx(2.0));
    REQUIRE(n.at<float>(0, 0) == 0);
    REQUIRE_THROWS_AS(tokenNorms(t, 3), vitrine::core::Error);
}

TEST_CASE("PCA colours have the grid's shape, lie in [0, 1] and span it", "[attention]") {
    const auto pca = pcaRgb(randomTokens(196, 64, 1), 14);
    REQUIRE(pca.rgb.type() == CV_32FC3);
    REQUIRE(pca.rgb.size() == cv::Size(14, 14));
    std::vector<cv::Mat> ch;
    cv::split(pca.rgb, ch);
    for (const auto& c : ch) {
        double lo = 0, hi = 0;
        cv::minMaxLoc(c, &lo, &hi);
        REQUIRE(lo == Approx(0.0).margin(1e-6));
        REQUIRE(hi == Approx(1.0).margin(1e-6));
    }
    REQUIRE(pca.explainedVariance.size() == 3);
    REQUIRE(pca.explainedVariance[0] >= pca.explainedVariance[1]);
    REQUIRE(pca.explainedVariance[1] >= pca.explainedVariance[2]);
    REQUIRE(cv::countNonZero(pca.foreground) == 196);
}

TEST_CASE("background removal by the first component finds the object", "[attention]") {
    cv::Mat truth;
    const cv::Mat tokens = objectOnBackground(8, 16, 5, &truth);
    PcaRgbOptions o;
    o.removeBackground = true;
    const auto pca = pcaRgb(tokens, 8, o);
    REQUIRE(cv::norm(pca.foreground, truth, cv::NORM_L1) == 0);
    // Background patches are black, foreground patches are coloured.
    for (int p = 0; p < 64; ++p) {
        const cv::Vec3f c = pca.rgb.at<cv::Vec3f>(p / 8, p % 8);
        if (!truth.at<unsigned char>(p / 8, p % 8))
            REQUIRE(c == cv::Vec3f(0, 0, 0));
    }
}

TEST_CASE("patch similarity of an image with itself is 1 on the diagonal", "[attention]") {
    const cv::Mat t = randomTokens(49, 32, 9);
    const cv::Mat sim = patchSimilarityMatrix(t, t);
    REQUIRE(sim.size() == cv::Size(49, 49));
    for (int i = 0; i < 49; ++i)
        REQUIRE(sim.at<float>(i, i) == Approx(1.0).margin(1e-5));
    double lo = 0, hi = 0;
    cv::minMaxLoc(sim, &lo, &hi);
    REQUIRE(lo >= -1.0 - 1e-5);
    REQUIRE(hi <= 1.0 + 1e-5);

    const cv::Mat map = patchSimilarityMap(t, 10, t, 7);
    REQUIRE(map.size() == cv::Size(7, 7));
    cv::Point best;
    cv::minMaxLoc(map, nullptr, nullptr, nullptr, &best);
    REQUIRE(best == cv::Point(10 % 7, 10 / 7));

    const auto mutual = bestPatchMatches(t, t);
    REQUIRE(mutual.size() == 49);
    for (const auto& m : mutual) {
        REQUIRE(m.patchA == m.patchB);
        REQUIRE(m.similarity == Approx(1.0).margin(1e-5));
    }
}

TEST_CASE("best patch matches find a shuffled copy and rank top-k pairs", "[attention]") {
    const cv::Mat a = randomTokens(16, 24, 4);
    cv::Mat b(16, 24, CV_32F);
    std::vector<int> perm(16);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), std::mt19937(2));
    for (int i = 0; i < 16; ++i)
        a.row(i).copyTo(b.row(perm[i])); // b[perm[i]] = 2 * a[i] would match the same
    b *= 2.0;
    const auto mutual = bestPatchMatches(a, b, MatchMode::MutualNearest, 5);
    REQUIRE(mutual.size() == 5);
    for (const auto& m : mutual)
        REQUIRE(m.patchB == perm[static_cast<std::size_t>(m.patchA)]);

    const auto top = bestPatchMatches(a, b, MatchMode::TopK, 20);
    REQUIRE(top.size() == 20);
    for (std::size_t i = 1; i < top.size(); ++i)
        REQUIRE(top[i - 1].similarity >= top[i].similarity);
    REQUIRE(top.front().similarity == Approx(1.0).margin(1e-5));
    REQUIRE_THROWS_AS(bestPatchMatches(a, randomTokens(4, 8, 1)), vitrine::core::Error);
}

TEST_CASE("heatmaps have the image's size and colours are RGB", "[attention]") {
    cv::Mat photo(300, 200, CV_8UC3, cv::Scalar(10, 120, 200));
    cv::Mat map = cv::Mat::zeros(14, 14, CV_32F);
    map.at<float>(0, 13) = 1.f; // top-right patch hot
    HeatmapStyle style;
    style.opacity = 1.0;
    style.interpolation = Interpolation::Nearest;
    const cv::Mat out = renderHeatmap(photo, map, style);
    REQUIRE(out.size() == photo.size());
    REQUIRE(out.type() == CV_8UC3);
    // Viridis runs from dark purple to yellow: hot = high red + green, low blue (in RGB).
    const cv::Vec3b hot = out.at<cv::Vec3b>(2, 198);
    const cv::Vec3b cold = out.at<cv::Vec3b>(299, 0);
    REQUIRE(hot[0] > 200);
    REQUIRE(hot[2] < 80);
    REQUIRE(cold[2] > cold[0]);

    style.opacity = 0.0;
    REQUIRE(cv::norm(renderHeatmap(photo, map, style), photo, cv::NORM_INF) == 0);
    REQUIRE(renderHeatmap(cv::Mat(), map, style, {64, 48}).size() == cv::Size(64, 48));
    for (const auto& name : colormapNames())
        REQUIRE(toString(parseColormap(name)) == name);
    REQUIRE_THROWS_AS(parseColormap("rainbow-unicorn"), vitrine::core::Error);

    // Nearest upsampling gives whole-patch blocks, even for sizes the grid does not divide.
    const cv::Mat up = upsampleMap(map, {200, 300}, Interpolation::Nearest);
    const cv::Rect hotRect = patchRect({200, 300}, 14, 13);
    REQUIRE(cv::countNonZero(up) == hotRect.area());
    REQUIRE(cv::countNonZero(up(hotRect)) == hotRect.area());
}

TEST_CASE("signed differences are blue below zero, red above, near-white at zero", "[attention]") {
    const cv::Mat diff = (cv::Mat_<float>(1, 3) << -0.2f, 0.f, 0.1f);
    const cv::Mat out = renderDifference(cv::Mat(), diff, 1.0, Interpolation::Nearest, 0, {3, 1});
    REQUIRE(out.size() == cv::Size(3, 1));
    const cv::Vec3b neg = out.at<cv::Vec3b>(0, 0), zero = out.at<cv::Vec3b>(0, 1), pos = out.at<cv::Vec3b>(0, 2);
    REQUIRE(neg[2] > neg[0]); // blue
    REQUIRE(pos[0] > pos[2]); // red
    REQUIRE(zero[0] > 200);
    REQUIRE(zero[1] > 200);
    REQUIRE(zero[2] > 200);
}

TEST_CASE("masks, grids, composites and original-size placement", "[attention]") {
    cv::Mat photo(64, 64, CV_8UC3, cv::Scalar(200, 200, 200));
    cv::Mat mask = cv::Mat::zeros(4, 4, CV_8U);
    mask.at<unsigned char>(1, 1) = 255;
    const cv::Mat masked = renderMask(photo, mask, 0.25);
    REQUIRE(masked.at<cv::Vec3b>(20, 20) == cv::Vec3b(200, 200, 200));
    REQUIRE(masked.at<cv::Vec3b>(2, 2) == cv::Vec3b(50, 50, 50));

    cv::Mat gridded = photo.clone();
    drawPatchGrid(gridded, 4, {255, 0, 0});
    REQUIRE(gridded.at<cv::Vec3b>(5, 16) == cv::Vec3b(255, 0, 0));
    REQUIRE(gridded.at<cv::Vec3b>(5, 5) == cv::Vec3b(200, 200, 200));

    std::vector<cv::Mat> tiles(6, photo);
    const cv::Mat sheet = composeTiles(tiles, {"head 0", "head 1", "head 2", "head 3", "head 4", "head 5"}, 3);
    REQUIRE(sheet.cols == 3 * 64 + 4 * 4);
    REQUIRE(sheet.rows > 2 * 64);

    cv::Mat original(100, 160, CV_8UC3, cv::Scalar(100, 100, 100));
    const cv::Rect crop(30, 0, 100, 100);
    cv::Mat rendered(50, 50, CV_8UC3, cv::Scalar(0, 255, 0));
    const cv::Mat placed = placeInOriginal(original, crop, rendered, 0.5);
    REQUIRE(placed.size() == original.size());
    REQUIRE(placed.at<cv::Vec3b>(50, 80) == cv::Vec3b(0, 255, 0));
    REQUIRE(placed.at<cv::Vec3b>(50, 5) == cv::Vec3b(50, 50, 50));
}

TEST_CASE("patch matches are drawn between two images side by side", "[attention]") {
    const cv::Mat a(64, 64, CV_8UC3, cv::Scalar(0, 0, 0));
    const cv::Mat b(32, 48, CV_8UC3, cv::Scalar(0, 0, 0));
    const std::vector<PatchMatch> matches{{0, 15, 0.9f}, {5, 0, 0.5f}};
    const cv::Mat out = renderPatchMatches(a, 4, b, 4, matches);
    REQUIRE(out.size() == cv::Size(64 + 96, 64));           // b scaled to a's height
    REQUIRE(out.at<cv::Vec3b>(8, 8) != cv::Vec3b(0, 0, 0)); // centre of patch 0 of a is marked
    REQUIRE(renderPatchMatches(a, 4, b, 4, {}).size() == out.size());
}

TEST_CASE("PNG outputs decode back with the expected size", "[attention]") {
    const auto dir = std::filesystem::temp_directory_path() / "vitrine_test_attention_png";
    std::filesystem::create_directories(dir);
    cv::Mat photo(37, 53, CV_8UC3, cv::Scalar(255, 0, 0)); // pure red in RGB
    const cv::Mat map = (cv::Mat_<float>(2, 2) << 0, 1, 2, 3);
    const cv::Mat out = renderHeatmap(photo, map, {});
    writePng(dir / "heat.png", out);
    writePng(dir / "plain.png", photo);
    const cv::Mat back = vitrine::core::image::decodeRgb(dir / "heat.png");
    REQUIRE(back.size() == photo.size());
    REQUIRE(cv::norm(back, out, cv::NORM_INF) == 0);
    REQUIRE(vitrine::core::image::decodeRgb(dir / "plain.png").at<cv::Vec3b>(0, 0) == cv::Vec3b(255, 0, 0));
    REQUIRE_THROWS_AS(writePng(dir / "missing-folder" / "x.png", out), vitrine::core::Error);
    std::filesystem::remove_all(dir);
}
