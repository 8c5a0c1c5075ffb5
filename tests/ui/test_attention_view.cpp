// The Inspector and `vitrine-cli attention` draw attention with one rule
// (core/analysis/attention_view.h): the same photo and the same request give the same pixels.
#include <QImage>
#include <QTemporaryDir>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "../cli/cli_run.h"
#include "../support/temp_dir.h"
#include "core/analysis/inspection.h"
#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/model/model_session.h"
#include "ui/inspector_panel.h"

// Last: LibTorch's headers bring glog, whose CHECK aborts the process ("Check failed: ...");
// included after them, Catch2's CHECK is the one these cases use, so a mismatch fails the
// case with its request and the run goes on.
#include <catch2/catch.hpp>

using vitrine::ui::InspectorPanel;
namespace an = vitrine::core::analysis;

namespace {

cv::Mat pixels(const QImage& image) {
    const QImage rgb = image.convertToFormat(QImage::Format_RGB888);
    cv::Mat m(rgb.height(), rgb.width(), CV_8UC3);
    for (int y = 0; y < rgb.height(); ++y)
        std::memcpy(m.ptr(y), rgb.constScanLine(y), std::size_t(rgb.width()) * 3);
    return m;
}

} // namespace

TEST_CASE("the Inspector and vitrine-cli attention draw the same pixels for the same request",
          "[ui][inspector][attention]") {
    QTemporaryDir settings;
    qputenv("XDG_CONFIG_HOME", settings.path().toUtf8());
    vitrine::testutil::TempDir tmp("attention-same-pixels");
    const std::string photo = std::string(VITRINE_TEST_DATA) + "/cat/Bengal/Bengal_1.jpg";

    // What the Inspector's worker computes for a selected image (ui/workspace.cpp).
    vitrine::core::model::ModelSession session;
    session.ensure("vit-micro", 0);
    auto result = std::make_shared<const an::InspectionResult>(
        an::inspectImage(*session.loaded().model,
                         vitrine::core::image::decodeForModel(photo, session.loaded().model->config().inputOptions())));
    REQUIRE(result->layers() == 6);
    InspectorPanel panel;
    panel.setInspection(result, QStringLiteral("Bengal_1"));

    struct Request {
        std::string what;
        std::function<void()> controls; ///< the Inspector's controls
        std::string flags;              ///< the same request on the command line
    };
    // Every control is set in every request, so none depends on the one before.
    auto set = [&](InspectorPanel::View view, int layer, int head, bool rollout, bool mask, int patch) {
        panel.setView(view);
        panel.setLayer(layer);
        panel.setHead(head); // 0 mean, 1 max, 2 min, 3 + h head h
        panel.setRollout(rollout);
        panel.setMask(mask);
        panel.setQueryPatch(patch);
    };
    using View = InspectorPanel::View;
    const std::vector<Request> requests{
        {"the last layer's mean", [&] { set(View::Attention, 5, 0, false, false, -1); }, "--layer 5 --head mean"},
        {"one head of one layer, where a patch looks", [&] { set(View::Attention, 2, 3 + 1, false, false, 40); },
         "--layer 2 --head 1 --patch 40"},
        {"rollout of the max over heads", [&] { set(View::Attention, 4, 1, true, false, -1); },
         "--rollout --layer 4 --head max"},
        {"the DINO mask", [&] { set(View::Attention, 3, 0, false, true, -1); }, "--layer 3 --mask 0.6"},
        {"every head of a layer, with the patch grid", [&] { set(View::AllHeads, 1, 0, false, false, -1); },
         "--grid --draw-grid --layer 1"},
    };
    for (const auto& request : requests) {
        INFO(request.what << ": vitrine-cli attention " << request.flags);
        request.controls();
        const cv::Mat gui = pixels(panel.currentImage());
        const auto png = tmp.path / "cli.png";
        const auto r = vitrine::testutil::cli("attention --model vit-micro --view model --image " +
                                                  vitrine::testutil::q(photo) + " --out " + vitrine::testutil::q(png) +
                                                  " " + request.flags,
                                              tmp.path);
        INFO(r.out << r.err);
        REQUIRE(r.code == 0);
        const cv::Mat cli = vitrine::core::image::decodeRgb(png);
        REQUIRE(gui.size() == cli.size());
        CHECK(cv::norm(gui, cli, cv::NORM_INF) == 0);
    }
}
