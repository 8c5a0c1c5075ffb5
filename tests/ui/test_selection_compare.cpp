// From looking to fixing (issue #19), in the real window with the real model, offscreen:
// - Export Selection: the images selected on the map become a CSV list, an ImageFolder copy
//   and a montage — the same bytes `vitrine-cli select` (core/analysis/selection_export.h)
//   writes — from a dialog that remembers its choices and says what went wrong and what to do.
// - Compare With: the current embeddings against a second embeddings file, rows matched by
//   path; the images whose neighbourhood changed are listed first, the map is coloured by the
//   change, and selecting an entry selects the image on both maps.
// - Compare With a model: the data set embedded with a checkpoint in the panel's worker, the
//   second map beside the main one, aligned onto it, selection and hover linked both ways.
#include <catch2/catch.hpp>

#include "../support/demo_photos.h"
#include "../support/wait_for.h"

#include <QAction>
#include <QComboBox>
#include <QDockWidget>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>

#include "core/analysis/selection_export.h"
#include "core/common/files.h"
#include "core/io/atomic_file.h"
#include "core/io/embedding_export.h"
#include "core/io/embedding_set.h"
#include "core/model/model_paths.h"
#include "ui/compare_panel.h"
#include "ui/dataset_model.h"
#include "ui/dataset_panel.h"
#include "ui/export_dialog.h"
#include "ui/job_runner.h"
#include "ui/main_window.h"
#include "ui/map_panel.h"
#include "ui/scatter_view.h"
#include "ui/selection_export_dialog.h"
#include "ui/workspace.h"

using namespace vitrine::ui;
using vitrine::testutil::makePets;
using vitrine::testutil::waitFor;
namespace fs = std::filesystem;
namespace analysis = vitrine::core::analysis;

namespace {

void openAndEmbed(MainWindow& w, const fs::path& root, int rows) {
    w.openFolder(QString::fromStdString(root.string()));
    REQUIRE(w.scanRunner()->waitForIdle(60000));
    REQUIRE(w.workspace()->waitForIdle(240000));
    REQUIRE(w.workspace()->hasEmbeddings());
    REQUIRE(w.datasetModel()->rowCount() == rows);
}

QString relPath(MainWindow& w, int row) {
    return w.datasetModel()->index(row).data(DatasetModel::RelativePathRole).toString();
}

/// Runs the dialog's export with its current choices; true when it ended without an error.
bool exportWith(SelectionExportDialog* d, int format, const QString& path) {
    d->formatBox()->setCurrentIndex(format);
    d->pathEdit()->setText(path);
    QTest::mouseClick(d->exportButton(), Qt::LeftButton);
    return waitFor([&] { return !d->runner()->busy(); }, 60000) && !d->statusLabel()->text().contains("failed");
}

/// The largest distance between an image on the main map and on Compare's second map, as a
/// share of the main map's radius.
double misalignment(MainWindow& w, const ComparisonView& r) {
    const auto& mainLayout = w.workspace()->layout();
    REQUIRE(r.otherLayout.size() == mainLayout.size());
    QPointF mean;
    for (const QPointF& p : mainLayout)
        mean += p / mainLayout.size();
    double radius = 0, error = 0;
    for (int row = 0; row < mainLayout.size(); ++row) {
        radius = std::max(radius, QLineF(mainLayout[row], mean).length());
        error = std::max(error, QLineF(mainLayout[row], r.otherLayout[row]).length());
    }
    return error / radius;
}

SelectionExportDialog* openExportDialog(MainWindow& w) {
    w.exportSelectionAction()->trigger();
    SelectionExportDialog* d = nullptr;
    waitFor([&] { return (d = w.findChild<SelectionExportDialog*>()) != nullptr && d->isVisible(); }, 5000);
    return d;
}

} // namespace

TEST_CASE("Export Selection writes the map's selection as CSV, ImageFolder copy and montage", "[ui][selection]") {
    QTemporaryDir settings;
    qputenv("XDG_CONFIG_HOME", settings.path().toUtf8());
    QTemporaryDir tmp;
    REQUIRE(tmp.isValid());
    const fs::path base(tmp.path().toStdString());
    const fs::path root = makePets(base, 2);
    MainWindow w;
    w.show();
    openAndEmbed(w, root, 16);

    // Nothing selected and no image in view: the action explains how to select instead of
    // opening an empty dialog.
    w.mapPanel()->view()->setSelection({}, true);
    w.mapPanel()->view()->setCurrent(-1);
    w.exportSelectionAction()->trigger();
    QCoreApplication::processEvents();
    CHECK(w.findChild<SelectionExportDialog*>() == nullptr);
    CHECK(w.statusBar()->currentMessage().contains("Shift+drag"));
    // Nothing selected but one image in view (picked from a list: the ringed point): that one.
    w.mapPanel()->view()->setCurrent(4);
    {
        SelectionExportDialog* one = openExportDialog(w);
        REQUIRE(one);
        CHECK(one->windowTitle().contains("1"));
        delete one;
    }
    w.mapPanel()->view()->setCurrent(-1);
    // The map's context menu offers the action.
    CHECK(w.mapPanel()->contextActions().contains(w.exportSelectionAction()));

    // Select three images on the map (as a rectangle or lasso would: the signal included).
    const QList<int> picked{1, 6, 12};
    w.mapPanel()->view()->setSelection(QSet<int>(picked.begin(), picked.end()), true);
    SelectionExportDialog* d = openExportDialog(w);
    REQUIRE(d);
    CHECK(d->windowTitle().contains("3"));

    // CSV: a name without suffix gets ".csv"; the rows are the selection, in data set order.
    REQUIRE(exportWith(d, SelectionExportDialog::Csv, QString::fromStdString((base / "picked").string())));
    INFO(d->statusLabel()->text().toStdString());
    const auto listed = analysis::readSelectionCsv(base / "picked.csv");
    REQUIRE(listed.size() == 3);
    for (int i = 0; i < 3; ++i) {
        // As std::string, so that a mismatch prints the two paths (Catch2 prints a QString as {?}s).
        CHECK(listed[std::size_t(i)].path == relPath(w, picked[i]).toStdString());
        CHECK(listed[std::size_t(i)].label ==
              w.datasetModel()->index(picked[i]).data(DatasetModel::ClassRole).toString().toStdString());
    }

    // A destination that cannot work is refused with the path and what to do.
    REQUIRE_FALSE(exportWith(d, SelectionExportDialog::Csv,
                             QString::fromStdString((base / "no such folder" / "x.csv").string())));
    CHECK(d->statusLabel()->text().contains("no such folder"));
    CHECK(d->statusLabel()->text().contains("does not exist"));
    // A failure inside the job (a file where the class folder must go) names the file, keeps
    // what was there, and says what to do.
    const fs::path blocked = base / "blocked";
    fs::create_directories(blocked);
    vitrine::core::io::writeFileAtomically(blocked / "cat", "not a folder");
    REQUIRE_FALSE(exportWith(d, SelectionExportDialog::ImageFolder, QString::fromStdString(blocked.string())));
    CHECK(d->statusLabel()->text().contains("Export failed"));
    CHECK(d->statusLabel()->text().contains(QString::fromStdString((blocked / "cat").string())));
    CHECK(d->statusLabel()->text().contains("choose another folder"));
    CHECK(vitrine::core::readFile(blocked / "cat") == "not a folder");

    // ImageFolder copy: class/file, byte for byte.
    const fs::path subset = base / "subset";
    REQUIRE(exportWith(d, SelectionExportDialog::ImageFolder, QString::fromStdString(subset.string())));
    for (int row : picked) {
        const fs::path source = root / relPath(w, row).toStdString();
        const fs::path copy = subset / source.parent_path().filename() / source.filename();
        INFO(copy.string());
        REQUIRE(fs::exists(copy));
        CHECK(vitrine::core::readFile(copy) == vitrine::core::readFile(source));
    }
    CHECK(d->statusLabel()->text().contains("Copied 3 image"));

    // Montage: the same bytes as the core function the CLI calls, with the dialog's options.
    d->formatBox()->setCurrentIndex(SelectionExportDialog::Montage);
    d->columnsBox()->setValue(3);
    d->cellBox()->setValue(96);
    d->captionBox()->setCurrentIndex(2); // the class
    const fs::path montage = base / "montage.png";
    REQUIRE(exportWith(d, SelectionExportDialog::Montage, QString::fromStdString(montage.string())));
    std::vector<analysis::SelectedImage> sel;
    for (const auto& l : listed)
        sel.push_back({l.path, l.label});
    analysis::MontageOptions mo;
    mo.columns = 3;
    mo.cell = 96;
    mo.caption = analysis::MontageOptions::Caption::Label;
    analysis::writeMontage(base / "cli-montage.png", root, sel, mo);
    CHECK(vitrine::core::readFile(montage) == vitrine::core::readFile(base / "cli-montage.png"));
    const QImage picture(QString::fromStdString(montage.string()));
    CHECK(picture.width() > 3 * 96);

    // The choices are remembered: the next dialog opens on the montage, its file and options,
    // and each format keeps its own destination.
    d->reject();
    REQUIRE(waitFor([&] { return w.findChild<SelectionExportDialog*>() == nullptr; }, 5000));
    SelectionExportDialog* again = openExportDialog(w);
    REQUIRE(again);
    CHECK(again->formatBox()->currentIndex() == SelectionExportDialog::Montage);
    CHECK(fs::path(again->pathEdit()->text().toStdString()) == montage);
    CHECK(again->columnsBox()->value() == 3);
    CHECK(again->cellBox()->value() == 96);
    CHECK(again->captionBox()->currentIndex() == 2);
    again->formatBox()->setCurrentIndex(SelectionExportDialog::ImageFolder);
    CHECK(fs::path(again->pathEdit()->text().toStdString()) == subset);
    again->reject();
}

TEST_CASE("Compare With lists the images whose neighbourhood changed and colours the map by it", "[ui][compare]") {
    QTemporaryDir settings;
    qputenv("XDG_CONFIG_HOME", settings.path().toUtf8());
    QTemporaryDir tmp;
    REQUIRE(tmp.isValid());
    const fs::path base(tmp.path().toStdString());
    const fs::path root = makePets(base, 3);
    MainWindow w;
    w.show();
    openAndEmbed(w, root, 24);
    ComparePanel* panel = w.comparePanel();
    REQUIRE(panel);
    CHECK(w.mapPanel()->contextActions().contains(w.compareAction()));

    // The same embeddings, exported as the app does: every neighbourhood is the same.
    const QString same = QString::fromStdString((base / "same.npy").string());
    REQUIRE(ExportDialog::exportNow(w.workspace(), w.datasetModel(), "npy", same).isEmpty());
    panel->compareWith(same);
    REQUIRE(waitFor([&] { return !panel->busy(); }, 120000));
    INFO(panel->statusLabel()->text().toStdString());
    REQUIRE(panel->result());
    CHECK(panel->result()->compared == 24);
    CHECK(panel->result()->meanOverlap == Approx(1.0));
    CHECK(panel->tree()->topLevelItem(0)->text(0) == "Most changed (0)");

    // The same embeddings, three times as long: the same neighbours, and a second map three
    // times as large until aligned — drawn at the main map's scale, each image in its place.
    {
        auto scaled = vitrine::core::io::loadEmbeddingSet(same.toStdString());
        for (float& v : scaled.embeddings.data)
            v *= 3.0f;
        const fs::path scaledFile = base / "scaled.npy";
        vitrine::core::io::exportEmbeddings(scaled, scaledFile, {});
        panel->compareWith(QString::fromStdString(scaledFile.string()));
        REQUIRE(waitFor([&] { return !panel->busy(); }, 120000));
        REQUIRE(panel->result());
        CHECK(panel->result()->meanOverlap == Approx(1.0));
        CHECK(panel->result()->alignedToMainMap);
        CHECK(panel->otherMap()->pointCount() == 24);
        CHECK(misalignment(w, *panel->result()) < 0.02);
    }

    // A second file: rows in another order (matched by path), and a cat's and a dog's
    // embeddings swapped — those two images now sit among the other class.
    auto set = vitrine::core::io::loadEmbeddingSet(same.toStdString());
    const int pc = set.rows.column("path");
    REQUIRE(pc >= 0);
    const std::string cat = "cat/c1.jpg", dog = "dog/d16.jpg";
    std::int64_t catRow = -1, dogRow = -1;
    for (std::int64_t r = 0; r < set.rows.size(); ++r) {
        if (set.rows.rows[std::size_t(r)][std::size_t(pc)] == cat)
            catRow = r;
        if (set.rows.rows[std::size_t(r)][std::size_t(pc)] == dog)
            dogRow = r;
    }
    REQUIRE(catRow >= 0);
    REQUIRE(dogRow >= 0);
    std::swap_ranges(set.embeddings.row(catRow), set.embeddings.row(catRow) + set.embeddings.cols,
                     set.embeddings.row(dogRow));
    std::vector<std::size_t> order(std::size_t(set.rows.size()));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(7));
    vitrine::core::io::EmbeddingSet shuffled;
    shuffled.rows.columns = set.rows.columns;
    shuffled.embeddings = vitrine::core::Matrix(set.embeddings.rows, set.embeddings.cols);
    for (std::size_t i = 0; i < order.size(); ++i) {
        shuffled.rows.rows.push_back(set.rows.rows[order[i]]);
        std::copy_n(set.embeddings.row(std::int64_t(order[i])), set.embeddings.cols,
                    shuffled.embeddings.row(std::int64_t(i)));
    }
    const fs::path changedFile = base / "changed.npy";
    vitrine::core::io::exportEmbeddings(shuffled, changedFile, {});

    panel->kBox()->setValue(5);
    panel->compareWith(QString::fromStdString(changedFile.string()));
    REQUIRE(waitFor([&] { return !panel->busy(); }, 120000));
    INFO(panel->statusLabel()->text().toStdString());
    REQUIRE(panel->result());
    CHECK(panel->result()->k == 5);
    CHECK(panel->result()->compared == 24);
    CHECK(panel->result()->meanOverlap < 1.0);
    // The two swapped images head the list, with the least overlap.
    QTreeWidgetItem* changed = panel->tree()->topLevelItem(0);
    REQUIRE(changed->childCount() >= 2);
    const QStringList firstTwo{changed->child(0)->text(0), changed->child(1)->text(0)};
    CHECK(firstTwo.contains(QString::fromStdString(cat)));
    CHECK(firstTwo.contains(QString::fromStdString(dog)));
    CHECK(changed->child(1)->text(1).toDouble() < 0.5);
    // Every image the swap did not touch and whose neighbours it did not touch scores 1.
    int unchanged = 0;
    for (float o : panel->result()->overlap)
        unchanged += o == 1.0f ? 1 : 0;
    CHECK(unchanged > 0);

    // The map is coloured by the change: five bands, the swapped pair in the top one.
    CHECK(w.mapPanel()->currentScoreName() == ComparePanel::scoreName());
    REQUIRE(w.mapPanel()->legend()->count() == 5);
    const auto change = w.mapPanel()->scores(ComparePanel::scoreName());
    REQUIRE(change.size() == 24);
    int catDataRow = -1;
    for (int r = 0; r < 24; ++r)
        if (relPath(w, r) == QString::fromStdString(cat))
            catDataRow = r;
    REQUIRE(catDataRow >= 0);
    CHECK(change[catDataRow] == *std::max_element(change.begin(), change.end()));

    // Selecting an entry selects the image: the data set, the map and the Inspector follow.
    panel->tree()->setCurrentItem(changed->child(0));
    const QString picked = changed->child(0)->text(0);
    REQUIRE(waitFor(
        [&] { return w.datasetPanel()->currentRow() >= 0 && relPath(w, w.datasetPanel()->currentRow()) == picked; },
        5000));
    CHECK(relPath(w, w.mapPanel()->view()->current()) == picked);
    // ... and selected on both maps.
    const int pickedRow = changed->child(0)->data(0, Qt::UserRole + 1).toInt();
    CHECK(relPath(w, pickedRow) == picked);
    CHECK(w.mapPanel()->view()->selection() == QSet<int>{pickedRow});
    CHECK(panel->otherMap()->selection() == QSet<int>{pickedRow});

    // A file of another data set: refused with its name and what to do.
    vitrine::core::io::EmbeddingSet foreign;
    foreign.rows.columns = {"path", "label"};
    foreign.rows.rows = {{"x/1.jpg", "x"}, {"x/2.jpg", "x"}, {"y/3.jpg", "y"}};
    foreign.embeddings = vitrine::core::Matrix(3, 4);
    const fs::path foreignFile = base / "foreign.npy";
    vitrine::core::io::exportEmbeddings(foreign, foreignFile, {});
    panel->compareWith(QString::fromStdString(foreignFile.string()));
    REQUIRE(waitFor([&] { return !panel->busy(); }, 60000));
    CHECK(panel->statusLabel()->text().contains("foreign.npy"));
    CHECK(panel->statusLabel()->text().contains("another data set"));
    CHECK(panel->statusLabel()->text().contains("Export Embeddings"));
    // The last good result stays.
    CHECK(panel->result()->otherFile.endsWith("changed.npy"));
}

TEST_CASE("Compare With a model embeds the data set with it and shows its map beside the main one, linked",
          "[ui][compare]") {
    QTemporaryDir settings;
    qputenv("XDG_CONFIG_HOME", settings.path().toUtf8());
    QTemporaryDir tmp;
    REQUIRE(tmp.isValid());
    const fs::path base(tmp.path().toStdString());
    const fs::path root = makePets(base, 3);
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    openAndEmbed(w, root, 24);
    ComparePanel* panel = w.comparePanel();
    REQUIRE(panel);
    ScatterView* mainMap = w.mapPanel()->view();
    ScatterView* otherMap = panel->otherMap();
    REQUIRE(mainMap->pointCount() == 24);

    // The menu offers models: a checkpoint file, the bundled ones, the run's checkpoints.
    Q_EMIT panel->sourceMenu()->aboutToShow();
    QStringList entries;
    for (QAction* a : panel->sourceMenu()->actions())
        entries << a->text();
    INFO(entries.join(" | ").toStdString());
    CHECK(entries.contains("Model or Checkpoint File…"));
    CHECK(entries.contains("Bundled Model"));
    CHECK(entries.contains("Training Run Checkpoint"));
    CHECK(entries.contains("Embeddings File…"));

    // The checkpoint file of the model the window opened with: embedded in the panel's worker
    // (progress bar shown meanwhile), then compared — the same model finds the same neighbours.
    const fs::path checkpoint = vitrine::core::model::defaultModelPath();
    REQUIRE(fs::is_regular_file(checkpoint));
    panel->compareWithModel(QString::fromStdString(checkpoint.string()));
    REQUIRE(panel->busy());
    CHECK(panel->progressBar()->isVisibleTo(panel));
    REQUIRE(waitFor([&] { return !panel->busy(); }, 240000));
    INFO(panel->statusLabel()->text().toStdString());
    REQUIRE(panel->result());
    CHECK_FALSE(panel->progressBar()->isVisibleTo(panel));
    const ComparisonView& r = *panel->result();
    CHECK(r.otherIsModel);
    CHECK(r.compared == 24);
    REQUIRE(r.overlap.size() == 24);
    for (int row = 0; row < 24; ++row) {
        INFO(relPath(w, row).toStdString());
        CHECK(r.overlap[row] == 1.0f);
    }
    CHECK(r.meanOverlap == Approx(1.0));

    // The second map: as many points as the main map, aligned onto it (the same model draws
    // the same picture, so each image lands where it is on the main map).
    CHECK(otherMap->isVisibleTo(panel));
    REQUIRE(otherMap->pointCount() == mainMap->pointCount());
    CHECK(r.alignedToMainMap);
    CHECK(misalignment(w, r) < 0.02);
    CHECK(r.procrustesResidual < 1e-3);

    // Linked selection, both ways, by data set row.
    mainMap->setSelection({1, 5, 9}, /*emitSignal=*/true);
    CHECK(otherMap->selection() == QSet<int>{1, 5, 9});
    otherMap->setSelection({2, 3}, /*emitSignal=*/true);
    CHECK(mainMap->selection() == QSet<int>{2, 3});
    // With the mouse on the second map: a click selects that image on both maps and brings it
    // into view; hovering rings it on the main map.
    auto* dock = w.findChild<QDockWidget*>("compareDock");
    REQUIRE(dock);
    dock->show();
    dock->raise();
    REQUIRE(waitFor([&] { return otherMap->isVisible() && otherMap->width() > 50 && otherMap->height() > 50; }, 5000));
    otherMap->fitToData();
    const int target = 17;
    const QPoint at = otherMap->toWidget(r.otherLayout[target]).toPoint();
    const int hit = otherMap->pointAt(at);
    REQUIRE(hit >= 0);
    QTest::mouseMove(otherMap, at);
    REQUIRE(waitFor([&] { return mainMap->linkedHover() == hit; }, 2000));
    QTest::mouseClick(otherMap, Qt::LeftButton, {}, at);
    CHECK(otherMap->selection() == QSet<int>{hit});
    CHECK(mainMap->selection() == QSet<int>{hit});
    REQUIRE(waitFor([&] { return w.datasetPanel()->currentRow() == hit; }, 5000));
    CHECK(mainMap->current() == hit);
    CHECK(otherMap->current() == hit);

    // Linked views: zooming or panning either map shows the same region of the shared frame on
    // the other; recolouring or filtering the main map recolours the second.
    QTest::keyClick(mainMap, Qt::Key_Plus);
    QTest::keyClick(mainMap, Qt::Key_Right);
    const QPointF mainCentre = mainMap->visibleDataRect().center();
    CHECK(otherMap->visibleDataRect().center().x() == Approx(mainCentre.x()).epsilon(1e-6));
    CHECK(otherMap->visibleDataRect().center().y() == Approx(mainCentre.y()).epsilon(1e-6));
    QTest::keyClick(otherMap, Qt::Key_Minus);
    QTest::keyClick(otherMap, Qt::Key_Up);
    const QPointF otherCentre = otherMap->visibleDataRect().center();
    CHECK(mainMap->visibleDataRect().center().x() == Approx(otherCentre.x()).epsilon(1e-6));
    CHECK(mainMap->visibleDataRect().center().y() == Approx(otherCentre.y()).epsilon(1e-6));
    mainMap->setCategoryVisible(0, false);
    CHECK_FALSE(otherMap->categoryVisible(0));
    QVector<bool> onlyEven(24);
    for (int i = 0; i < 24; ++i)
        onlyEven[i] = i % 2 == 0;
    mainMap->setPointFilter(onlyEven);
    CHECK(otherMap->pointFilter() == onlyEven);
    mainMap->setPointFilter({});
    mainMap->setCategoryVisible(0, true);
    CHECK(otherMap->categories() == mainMap->categories());

    // Cancel stops the embedding; the last result and its map stay.
    panel->compareWithModel("vit-micro-pets");
    REQUIRE(panel->busy());
    QPushButton* cancel = nullptr;
    for (auto* b : panel->findChildren<QPushButton*>())
        if (b->text() == "Cancel")
            cancel = b;
    REQUIRE(cancel);
    REQUIRE(cancel->isVisibleTo(panel));
    QTest::mouseClick(cancel, Qt::LeftButton);
    REQUIRE(waitFor([&] { return !panel->busy(); }, 60000));
    CHECK(panel->statusLabel()->text().contains("cancelled"));
    CHECK(panel->result()->otherFile == QString::fromStdString(checkpoint.string()));
    CHECK(otherMap->pointCount() == 24);
}
