// The real main window, offscreen: open the demo set, drop a folder and loose files
// with real QDropEvents, and check the data set model and the Problems view.
#include <catch2/catch.hpp>

#include "../support/wait_for.h"

#include <QApplication>
#include <QComboBox>
#include <QDropEvent>
#include <QListView>
#include <QMimeData>
#include <QPixmap>
#include <QSignalSpy>
#include <QStandardItemModel>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>
#include <QUrl>

#include <filesystem>
#include <fstream>

#include "ui/dataset_model.h"
#include "ui/dataset_panel.h"
#include "ui/job_runner.h"
#include "ui/main_window.h"
#include "ui/thumbnail_cache.h"
#include "ui/workspace.h"

using namespace vitrine::ui;
namespace fs = std::filesystem;

namespace {

void waitIdle(MainWindow& w) {
    REQUIRE(w.scanRunner()->waitForIdle(60000));
    QCoreApplication::processEvents();
}

void drop(QWidget* target, const QList<QUrl>& urls) {
    QMimeData mime;
    mime.setUrls(urls);
    QPoint pos = target->rect().center();
    QDragEnterEvent enter(pos, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(target, &enter);
    REQUIRE(enter.isAccepted());
    QDropEvent dropEvent(QPointF(pos), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(target, &dropEvent);
}

QString problemsText(MainWindow& w) {
    QString all;
    for (int r = 0; r < w.problemsModel()->rowCount(); ++r)
        all += w.problemsModel()->item(r, 0)->text() + " | " + w.problemsModel()->item(r, 1)->text() + "\n";
    return all;
}

fs::path demoPhoto(const char* breedDir) {
    for (const auto& e : fs::directory_iterator(fs::path(VITRINE_TEST_DATA) / breedDir))
        return e.path();
    return {};
}

} // namespace

TEST_CASE("the main window opens the demo photos and shows thumbnails", "[ui][threads]") {
    QTemporaryDir settingsDir;
    qputenv("XDG_CONFIG_HOME", settingsDir.path().toUtf8());
    MainWindow w;
    w.show();
    w.openFolder(VITRINE_TEST_DATA);
    waitIdle(w);
    CHECK(w.datasetModel()->rowCount() == 296);
    CHECK(w.datasetModel()->classNames().size() == 37);
    CHECK(w.problemsModel()->rowCount() == 0);

    // Level 1 = species.
    w.datasetPanel()->levelBox()->setCurrentIndex(0);
    CHECK(w.datasetModel()->classNames() == QStringList{"cat", "dog"});
    CHECK(w.datasetModel()->classCounts() == QVector<int>{96, 200});

    // Thumbnails load off the GUI thread and then appear through the model.
    // Until then a placeholder of the same size keeps the grid's cells full-sized.
    QModelIndex first = w.datasetModel()->index(0);
    const auto placeholder = w.datasetModel()->data(first, Qt::DecorationRole).value<QPixmap>();
    CHECK(placeholder.size() == QSize(w.thumbnails()->size(), w.thumbnails()->size()));
    const QString firstPath = w.datasetModel()->data(first, DatasetModel::PathRole).toString();
    w.thumbnails()->waitForDone();
    REQUIRE(vitrine::testutil::waitFor([&] { return !w.thumbnails()->get(firstPath).isNull(); }, 10000));
    const auto thumb = w.datasetModel()->data(first, Qt::DecorationRole).value<QPixmap>();
    CHECK(thumb.size() == placeholder.size());
    CHECK(thumb.toImage() != placeholder.toImage());
    CHECK(w.datasetModel()->data(first, Qt::ToolTipRole).toString().contains("cat"));

    // Unticking a class hides it from the grid.
    auto* classes = qobject_cast<QStandardItemModel*>(w.datasetPanel()->classList()->model());
    REQUIRE(classes);
    classes->item(0)->setCheckState(Qt::Unchecked); // cat
    CHECK(w.datasetPanel()->proxy()->rowCount() == 200);
}

TEST_CASE("dropping a folder and loose files adds them and non-images go to Problems", "[ui]") {
    QTemporaryDir settingsDir;
    qputenv("XDG_CONFIG_HOME", settingsDir.path().toUtf8());
    QTemporaryDir tmp;
    REQUIRE(tmp.isValid());
    const fs::path root = tmp.path().toStdString();

    // A small labelled folder: two classes, one broken file.
    fs::create_directories(root / "set" / "hamster");
    fs::create_directories(root / "set" / "rabbit");
    fs::copy_file(demoPhoto("cat/Bengal"), root / "set" / "hamster" / "h1.jpg");
    fs::copy_file(demoPhoto("cat/Birman"), root / "set" / "hamster" / "h2.jpg");
    fs::copy_file(demoPhoto("dog/beagle"), root / "set" / "rabbit" / "r1.jpg");
    std::ofstream(root / "set" / "rabbit" / "broken.jpg") << "<html>nope</html>";
    // Loose files: two photos and a text file.
    fs::copy_file(demoPhoto("dog/boxer"), root / "loose 1.jpg");
    fs::copy_file(demoPhoto("dog/pug"), root / "loose, 2.jpg");
    std::ofstream(root / "readme.txt") << "not an image";

    MainWindow w;
    w.show();
    w.openFolder(VITRINE_TEST_DATA);
    waitIdle(w);
    REQUIRE(w.datasetModel()->rowCount() == 296);

    drop(&w, {QUrl::fromLocalFile(QString::fromStdString((root / "set").string()))});
    waitIdle(w);
    CHECK(w.datasetModel()->rowCount() == 299);
    CHECK(w.datasetModel()->classNames().contains("hamster"));
    CHECK(w.datasetModel()->classNames().contains("rabbit"));
    CHECK(problemsText(w).contains("broken.jpg | not an image"));

    w.datasetPanel()->levelBox()->setCurrentIndex(1); // breeds (settings may remember another level)
    QStringList offered;
    int offeredCount = 0;
    w.setClassChooser([&](const QStringList& existing, int count) {
        offered = existing;
        offeredCount = count;
        return QStringLiteral("beagle");
    });
    drop(&w, {QUrl::fromLocalFile(QString::fromStdString((root / "loose 1.jpg").string())),
              QUrl::fromLocalFile(QString::fromStdString((root / "loose, 2.jpg").string())),
              QUrl::fromLocalFile(QString::fromStdString((root / "readme.txt").string()))});
    CHECK(offeredCount == 2);
    CHECK(offered.contains("beagle"));
    CHECK(w.datasetModel()->rowCount() == 301);
    CHECK(problemsText(w).contains("readme.txt | not an image file"));
    // Joining the existing breed keeps its species.
    int beagles = 0;
    for (int r = 0; r < w.datasetModel()->rowCount(); ++r) {
        const auto& s = w.datasetModel()->dataset().samples[std::size_t(r)];
        if (s.path.filename() == "loose 1.jpg") {
            CHECK(s.labels == std::vector<std::string>{"dog", "beagle"});
            ++beagles;
        }
    }
    CHECK(beagles == 1);

    // Undo removes exactly the dropped files.
    w.undoStack()->undo();
    CHECK(w.datasetModel()->rowCount() == 299);
    w.undoStack()->redo();
    CHECK(w.datasetModel()->rowCount() == 301);

    // Cancelling the class question adds nothing.
    w.setClassChooser([](const QStringList&, int) { return QString(); });
    fs::copy_file(demoPhoto("dog/pug"), root / "loose 3.jpg");
    drop(&w, {QUrl::fromLocalFile(QString::fromStdString((root / "loose 3.jpg").string()))});
    CHECK(w.datasetModel()->rowCount() == 301);
}

TEST_CASE("a scan can be cancelled and leaves the loaded set intact", "[ui][threads]") {
    QTemporaryDir settingsDir;
    qputenv("XDG_CONFIG_HOME", settingsDir.path().toUtf8());
    MainWindow w;
    w.openFolder(VITRINE_TEST_DATA);
    waitIdle(w);
    QSignalSpy cancelled(w.scanRunner(), &JobRunner::cancelled);
    QSignalSpy replaced(w.datasetModel(), &QAbstractItemModel::modelReset);
    w.openFolder(VITRINE_TEST_DATA);
    w.scanRunner()->cancel();
    waitIdle(w);
    // The same folder scanned to the end would leave the same 296 rows: the count alone
    // cannot tell a cancelled scan from a finished one. Cancelled, the set is never replaced.
    CHECK(cancelled.count() == 1);
    CHECK(replaced.count() == 0);
    CHECK(w.datasetModel()->rowCount() == 296);
}

TEST_CASE("dropping a folder of every format loads each file and explains the rest", "[ui][formats]") {
    QTemporaryDir settingsDir;
    qputenv("XDG_CONFIG_HOME", settingsDir.path().toUtf8());
    QTemporaryDir tmp;
    REQUIRE(tmp.isValid());
    const fs::path root = fs::path(tmp.path().toStdString()) / "formats";
    const fs::path corpus = fs::path(VITRINE_FIXTURES) / "formats" / "corpus";
    // One class folder per format, as the corpus manifest lists them.
    std::ifstream manifest(corpus / "manifest.tsv");
    REQUIRE(manifest);
    std::string line;
    std::getline(manifest, line);
    int good = 0;
    QStringList refused;
    while (std::getline(manifest, line)) {
        const auto tab1 = line.find('\t'), tab2 = line.find('\t', tab1 + 1), tab3 = line.find('\t', tab2 + 1);
        const std::string file = line.substr(0, tab1), format = line.substr(tab1 + 1, tab2 - tab1 - 1);
        const std::string expect = line.substr(tab3 + 1, line.find('\t', tab3 + 1) - tab3 - 1);
        fs::create_directories(root / format);
        fs::copy_file(corpus / file, root / format / file);
        if (expect == "ok")
            ++good;
        else
            refused << QString::fromStdString(file);
    }
    REQUIRE(good >= 95);

    MainWindow w;
    w.show();
    drop(&w, {QUrl::fromLocalFile(QString::fromStdString(root.string()))});
    waitIdle(w);
    CHECK(w.datasetModel()->rowCount() == good);
    const QString problems = problemsText(w);
    INFO(problems.toStdString());
    for (const auto& f : refused)
        CHECK(problems.contains(f));
    CHECK(w.problemsModel()->rowCount() == refused.size());

    // Thumbnails come from the same decoders: a HEIC, an AVIF, a JPEG XL and a GIF show.
    QStringList wanted;
    for (int r = 0; r < w.datasetModel()->rowCount(); ++r) {
        const QString path = w.datasetModel()->data(w.datasetModel()->index(r), DatasetModel::PathRole).toString();
        if (path.endsWith("heifenc-q90.heic") || path.endsWith("heifenc-q90.avif") ||
            path.endsWith("cjxl-lossless.jxl") || path.endsWith("pillow-named-jpg.jpg")) {
            wanted << path;
            (void)w.datasetModel()->data(w.datasetModel()->index(r), Qt::DecorationRole); // asks for the thumbnail
        }
    }
    REQUIRE(wanted.size() == 4);
    w.thumbnails()->waitForDone();
    for (const auto& path : wanted) {
        INFO(path.toStdString());
        CHECK(vitrine::testutil::waitFor([&] { return !w.thumbnails()->get(path).isNull(); }, 10000));
    }
}

TEST_CASE("dropping a Hugging Face model folder opens it as the model, with its own heads and preprocessing",
          "[ui][model]") {
    QTemporaryDir settingsDir;
    qputenv("XDG_CONFIG_HOME", settingsDir.path().toUtf8());
    QTemporaryDir tmp;
    REQUIRE(tmp.isValid());
    const fs::path folder = fs::path(tmp.path().toStdString()) / "vit-hf";
    fs::create_directories(folder);
    fs::copy_file(fs::path(VITRINE_FIXTURES) / "model" / "hf_vit.safetensors", folder / "model.safetensors");
    std::ofstream(folder / "config.json") << R"({"model_type": "vit", "hidden_size": 32, "num_attention_heads": 2,
                                                "num_hidden_layers": 2, "patch_size": 8, "image_size": 32})";
    std::ofstream(folder / "preprocessor_config.json")
        << R"({"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": 3,
              "size": {"height": 32, "width": 32}})";

    // A few photos to embed with it (a model runs once there is something to embed).
    const fs::path photos = fs::path(tmp.path().toStdString()) / "photos";
    fs::create_directories(photos / "cat");
    fs::create_directories(photos / "dog");
    fs::copy_file(demoPhoto("cat/Bengal"), photos / "cat" / "1.jpg");
    fs::copy_file(demoPhoto("cat/Birman"), photos / "cat" / "2.jpg");
    fs::copy_file(demoPhoto("dog/beagle"), photos / "dog" / "3.jpg");

    MainWindow w;
    w.show();
    w.openFolder(QString::fromStdString(photos.string()));
    waitIdle(w);
    REQUIRE(w.datasetModel()->rowCount() == 3);
    QSignalSpy changed(w.workspace(), &Workspace::modelChanged);
    drop(&w, {QUrl::fromLocalFile(QString::fromStdString(folder.string()))});
    REQUIRE(vitrine::testutil::waitFor([&] { return changed.count() > 0; }, 60000));
    const QString description = changed.last().at(0).toString();
    const QStringList warnings = changed.last().at(1).toStringList();
    INFO(description.toStdString() << " | " << warnings.join(" / ").toStdString());
    CHECK(w.workspace()->modelSpec() == QString::fromStdString(folder.string()));
    CHECK(description.contains(QStringLiteral("2 heads")));               // from config.json
    CHECK_FALSE(warnings.join(' ').contains(QStringLiteral("ImageNet"))); // its preprocessor_config.json was read
    waitIdle(w);
    CHECK(w.datasetModel()->rowCount() == 3); // not taken for a folder of photos
}
