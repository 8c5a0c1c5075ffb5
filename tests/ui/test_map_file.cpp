// Opening an embeddings file as the map: a memory-mapped .npy with its rows sidecar becomes
// the data set (one row per embedding, no images) and a PCA map; large files get the map only.
#include <catch2/catch.hpp>

#include "../support/wait_for.h"

#include <QApplication>
#include <QLabel>
#include <QMessageBox>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTimer>

#include <cmath>
#include <filesystem>
#include <optional>
#include <random>
#include <set>

#include "core/analysis/neighbours.h"
#include "core/analysis/projection.h"
#include "core/io/npy.h"
#include "core/io/row_table.h"
#include "ui/dataset_model.h"
#include "ui/export_dialog.h"
#include "ui/job_runner.h"
#include "ui/main_window.h"
#include "ui/map_panel.h"
#include "ui/scatter_view.h"
#include "ui/workspace.h"

using namespace vitrine;
using namespace vitrine::ui;

namespace {

struct Env {
    QTemporaryDir settings;
    Env() { qputenv("XDG_CONFIG_HOME", settings.path().toUtf8()); }
};

// `n` rows of `d` values in three clusters; rows are written in reverse order of their
// names, so the data set (sorted by path) and the file (in file order) differ.
QString writeEmbeddings(const QString& dir, int n, int d, core::Matrix* out) {
    std::mt19937 rng(5);
    std::normal_distribution<float> g(0.0f, 1.0f);
    core::Matrix x(n, d);
    core::io::RowTable rows;
    rows.columns = {"path", "label"};
    for (int i = 0; i < n; ++i) {
        const int c = i % 3;
        for (int j = 0; j < d; ++j)
            x(i, j) = (j % 3 == c ? 8.0f : 0.0f) + g(rng);
        char name[64];
        std::snprintf(name, sizeof name, "c%d/img_%07d.jpg", c, n - 1 - i);
        rows.rows.push_back({name, "c" + std::to_string(c)});
    }
    const std::filesystem::path file = (dir + "/emb.npy").toStdString();
    core::io::writeNpyMatrix(file, x);
    core::io::writeRowTable(core::io::rowsSidecarPath(file), rows);
    *out = std::move(x);
    return QString::fromStdString(file.string());
}

bool waitForMap(MainWindow& w, int n) {
    return testutil::waitFor(
        [&] {
            return !w.scanRunner()->busy() && w.workspace()->waitForIdle(10) && w.workspace()->layout().size() == n &&
                   w.mapPanel()->view()->pointCount() == n;
        },
        180000);
}

// A shown 1200x800 window and `n` rows of `d` values written beside it as emb.npy
// (writeEmbeddings), with a settings folder of its own.
struct FileWindow {
    Env env;
    QTemporaryDir dir;
    core::Matrix x;
    QString file;
    MainWindow w;
    FileWindow(int n, int d) : file(writeEmbeddings(dir.path(), n, d, &x)) {
        w.resize(1200, 800);
        w.show();
    }
};

} // namespace

TEST_CASE("an embeddings file opens as the data set and its PCA map, without images", "[ui][map]") {
    const int n = 3000;
    FileWindow f(n, 12);
    MainWindow& w = f.w;
    const core::Matrix& x = f.x;
    const QString& file = f.file;
    w.openEmbeddings(file);
    REQUIRE(waitForMap(w, n));
    CHECK(w.datasetModel()->rowCount() == n);
    CHECK(w.workspace()->embeddings().rows == n);
    CHECK(w.workspace()->analysisNote().isEmpty());
    CHECK(w.workspace()->nearestSameClass().size() == n); // small files keep the extras
    // Each data set row is placed where PCA puts its own embedding row.
    const core::Matrix expected = core::analysis::pca(x);
    const auto& rowOf = w.workspace()->embeddingRowOf();
    REQUIRE(rowOf.size() == n);
    int mismatched = 0;
    for (int r = 0; r < n; ++r) {
        const int e = rowOf[r];
        const QString path = w.datasetModel()->index(r).data(DatasetModel::RelativePathRole).toString();
        char name[64];
        std::snprintf(name, sizeof name, "c%d/img_%07d.jpg", e % 3, n - 1 - e);
        const QPointF p = w.workspace()->layout()[r];
        if (path != QLatin1String(name) || std::abs(p.x() - expected(e, 0)) > 1e-3 ||
            std::abs(p.y() - expected(e, 1)) > 1e-3)
            ++mismatched;
    }
    CHECK(mismatched == 0);
    CHECK(w.datasetModel()->index(0).data(DatasetModel::ClassRole).toString().startsWith("c"));
    // The classes were numbered on the reading worker (DatasetIndex): names, counts and each
    // row's id agree with its label.
    CHECK(w.datasetModel()->classNames() == QStringList{"c0", "c1", "c2"});
    CHECK(w.datasetModel()->classCounts() == QVector<int>{n / 3, n / 3, n / 3});
    int wrongIds = 0;
    for (int r = 0; r < n; ++r) {
        const QModelIndex idx = w.datasetModel()->index(r);
        const int id = idx.data(DatasetModel::ClassIdRole).toInt();
        if (id < 0 || id > 2 || w.datasetModel()->classNames()[id] != idx.data(DatasetModel::ClassRole).toString())
            ++wrongIds;
    }
    CHECK(wrongIds == 0);

    // Export reads the mapping itself (ExportDialog shares the workspace's view, no copy):
    // the written .npy holds the file's rows in file order, its sidecar their names.
    CHECK(w.workspace()->embeddings().fileBacked);
    const QString exported = f.dir.path() + "/out.npy";
    REQUIRE(ExportDialog::exportNow(w.workspace(), w.datasetModel(), "npy", exported).isEmpty());
    const core::Matrix back = core::io::readNpyMatrix(exported.toStdString());
    REQUIRE(back.rows == n);
    CHECK(back.data == x.data);
    const auto rows = core::io::readRowTable(core::io::rowsSidecarPath(exported.toStdString()));
    REQUIRE(rows.rows.size() == std::size_t(n));
    CHECK(rows.value(0, "path") == "c0/img_0002999.jpg");
    CHECK(rows.value(n - 1, "path") == "c2/img_0000000.jpg");
}

TEST_CASE("a large embeddings file is mapped with PCA first; UMAP runs on it and Cancel keeps the PCA map",
          "[ui][map]") {
    const int n = int(Workspace::kLargeRows);
    FileWindow f(n, 6);
    MainWindow& w = f.w;
    const core::Matrix& x = f.x;
    const QString& file = f.file;
    w.openEmbeddings(file);
    REQUIRE(waitForMap(w, n));
    CHECK(w.workspace()->embeddings().rows == n);
    CHECK(w.workspace()->nearestSameClass().isEmpty());
    // After the map, the Map worker builds the FAISS index and saves it beside the file.
    const std::filesystem::path saved = core::analysis::faissIndexPath(file.toStdString());
    REQUIRE(testutil::waitFor([&] { return w.workspace()->neighbourIndex() != nullptr; }, 180000));
    CHECK(w.workspace()->neighbourIndex()->engine() == core::analysis::NeighbourEngine::Faiss);
    CHECK(w.workspace()->neighbourIndex()->indexFileStatus() == core::analysis::IndexFileStatus::Saved);
    CHECK(std::filesystem::is_regular_file(saved));
    INFO("note: " << w.workspace()->analysisNote().toStdString());
    CHECK(w.workspace()->analysisNote().contains("saved as emb.npy.faiss"));
    CHECK(w.mapPanel()->findChild<QLabel*>("mapInfo")->text() == w.workspace()->analysisNote());
    // The Neighbours panel's query goes through it: mostly the exact nearest rows.
    auto neighboursOf = [&](int row) {
        std::optional<QVector<NeighbourItem>> items;
        const auto connection = QObject::connect(
            w.workspace(), &Workspace::neighboursReady,
            [&](const QString&, const QString&, int, const QVector<NeighbourItem>& hits) { items = hits; });
        w.workspace()->requestNeighbours(row, 10, true);
        const bool answered = testutil::waitFor([&] { return items.has_value(); }, 60000);
        QObject::disconnect(connection);
        std::set<std::int64_t> rows;
        for (const NeighbourItem& item : items.value_or(QVector<NeighbourItem>{}))
            rows.insert(w.workspace()->embeddingRowOf()[item.row]);
        CHECK(answered);
        return rows;
    };
    const int queryRow = 1234;
    const int e = w.workspace()->embeddingRowOf()[queryRow];
    core::Matrix q(1, x.cols);
    std::copy(x.row(e), x.row(e) + x.cols, q.data.begin());
    int exactFound = 0;
    const std::set<std::int64_t> found = neighboursOf(queryRow);
    const auto exact = core::analysis::exactKnn(x, q, 11, core::analysis::Metric::Cosine);
    for (const auto& hit : exact[0])
        exactFound += hit.row != e && found.count(hit.row) ? 1 : 0;
    CHECK(found.size() == 10);
    CHECK(found.count(e) == 0);
    CHECK(exactFound >= 7);
    const QVector<QPointF> pcaMap = w.workspace()->layout();
    const auto index = w.workspace()->neighbourIndex();
    QSignalSpy errors(w.workspace(), &Workspace::error);
    // A refusal would come as a message box: read it and close it, so the wait below fails
    // with the reason instead of blocking.
    QString shown;
    QTimer closer;
    closer.setInterval(50);
    QObject::connect(&closer, &QTimer::timeout, [&] {
        if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget())) {
            shown = box->text();
            box->accept();
        }
    });
    closer.start();
    QList<vitrine::core::StageKind> stages;
    QObject::connect(w.workspace()->analysisRunner(), &JobRunner::progress,
                     [&](qint64, qint64, const QString&, vitrine::core::StageKind kind) { stages << kind; });
    QSignalSpy cancelled(w.workspace()->analysisRunner(), &JobRunner::cancelled);
    ProjectionSettings umap;
    umap.method = ProjectionMethod::Umap;
    w.workspace()->computeLayout(umap);
    // Not refused: it works through its neighbour graph, reporting progress.
    const bool started = testutil::waitFor(
        [&] { return stages.contains(vitrine::core::StageKind::Neighbours) || !shown.isEmpty(); }, 60000);
    INFO("message shown: " << shown.toStdString());
    REQUIRE(started);
    REQUIRE(shown.isEmpty());
    REQUIRE(stages.contains(vitrine::core::StageKind::Neighbours));
    w.workspace()->analysisRunner()->cancel();
    REQUIRE(testutil::waitFor([&] { return cancelled.count() > 0; }, 60000));
    CHECK(errors.isEmpty());
    CHECK(w.workspace()->layout() == pcaMap); // the last good map stays
    CHECK(w.workspace()->neighbourIndex() == index);
    closer.stop();

    // Opened again, the file's saved index is loaded instead of built.
    const auto savedTime = std::filesystem::last_write_time(saved);
    w.openEmbeddings(file);
    REQUIRE(testutil::waitFor(
        [&] { return w.workspace()->neighbourIndex() != nullptr && w.workspace()->neighbourIndex() != index; },
        180000));
    CHECK(w.workspace()->neighbourIndex()->indexFileStatus() == core::analysis::IndexFileStatus::Reused);
    CHECK(w.workspace()->analysisNote().contains("loaded from emb.npy.faiss"));
    CHECK(std::filesystem::last_write_time(saved) == savedTime);
    CHECK(neighboursOf(queryRow) == found);
}

TEST_CASE("a map asked for while the Map worker builds a large file's index cancels the build, which resumes after",
          "[ui][map]") {
    const int n = int(Workspace::kLargeRows);
    // 32 values a row: the index takes a few seconds to build here (at 6, under one).
    FileWindow f(n, 32);
    MainWindow& w = f.w;
    const QString& file = f.file;
    // As soon as the index build (after the first map) reports its first stage, training the
    // cells, ask for another map: from the progress signal itself, so that the request lands
    // while the build runs.
    QSignalSpy layouts(w.workspace(), &Workspace::layoutChanged);
    QSignalSpy cancelled(w.workspace()->analysisRunner(), &JobRunner::cancelled);
    bool asked = false, indexWasThere = true;
    qsizetype layoutsWhenAsked = 0;
    ProjectionSettings pca;
    pca.method = ProjectionMethod::Pca;
    pca.seed = 7;
    QObject::connect(w.workspace()->analysisRunner(), &JobRunner::progress,
                     [&](qint64, qint64, const QString&, vitrine::core::StageKind kind) {
                         if (!asked && kind == vitrine::core::StageKind::IndexTraining) {
                             asked = true;
                             indexWasThere = w.workspace()->neighbourIndex() != nullptr;
                             layoutsWhenAsked = layouts.count();
                             w.workspace()->computeLayout(pca);
                         }
                     });
    w.openEmbeddings(file);
    REQUIRE(testutil::waitFor([&] { return asked && layouts.count() > layoutsWhenAsked; }, 180000));
    CHECK_FALSE(indexWasThere);
    CHECK(cancelled.count() == 1); // the build, interrupted
    // The map came first; then the index is built after all.
    REQUIRE(testutil::waitFor([&] { return w.workspace()->neighbourIndex() != nullptr; }, 180000));
    CHECK(w.workspace()->neighbourIndex()->indexFileStatus() == core::analysis::IndexFileStatus::Saved);
}
