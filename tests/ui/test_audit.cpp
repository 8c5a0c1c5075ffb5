// The Audit panel with the real engine, offscreen: a small data set with a planted mislabel
// (a dog photo in the cat folder) and a byte copy; the audit lists both, the map can be
// coloured by the scores, and the fix (move to the suggested class) happens on disk, is read
// back into the data set, and Undo Fix puts the file back byte for byte.
#include <catch2/catch.hpp>

#include "../support/demo_photos.h"
#include "../support/wait_for.h"

#include <QComboBox>
#include <QListWidget>
#include <QTemporaryDir>
#include <QTreeWidget>

#include <filesystem>

#include "core/analysis/audit.h"
#include "core/common/files.h"
#include "ui/audit_panel.h"
#include "ui/dataset_model.h"
#include "ui/job_runner.h"
#include "ui/main_window.h"
#include "ui/map_panel.h"
#include "ui/workspace.h"

using namespace vitrine::ui;
namespace fs = std::filesystem;
using vitrine::testutil::demoPhotos;

namespace {

QTreeWidgetItem* section(QTreeWidget* tree, const QString& prefix) {
    for (int i = 0; i < tree->topLevelItemCount(); ++i)
        if (tree->topLevelItem(i)->text(0).startsWith(prefix))
            return tree->topLevelItem(i);
    return nullptr;
}

} // namespace

TEST_CASE("the Audit panel finds a planted mislabel and duplicate, and its fix can be undone", "[ui][audit]") {
    QTemporaryDir settings;
    qputenv("XDG_CONFIG_HOME", settings.path().toUtf8());
    QTemporaryDir tmp;
    REQUIRE(tmp.isValid());
    const fs::path root = vitrine::testutil::makePets(fs::path(tmp.path().toStdString()), 3);
    const fs::path planted = root / "cat" / "planted.jpg"; // a dog, filed as a cat
    fs::copy_file(demoPhotos("dog/beagle", 4).back(), planted);
    fs::copy_file(root / "dog" / "d12.jpg", root / "dog" / "copy of d12.jpg");
    const std::string plantedBytes = vitrine::core::readFile(planted);

    MainWindow w;
    w.show();
    w.openFolder(QString::fromStdString(root.string()));
    REQUIRE(w.scanRunner()->waitForIdle(60000));
    REQUIRE(w.workspace()->waitForIdle(240000));
    REQUIRE(w.workspace()->hasEmbeddings());
    REQUIRE(w.datasetModel()->rowCount() == 26);

    AuditPanel* audit = w.auditPanel();
    audit->runAudit();
    REQUIRE(vitrine::testutil::waitFor([&] { return !audit->busy() && audit->report(); }, 120000));
    INFO(audit->summary().toStdString());
    // The planted dog tops the likely mislabels, with "dog" suggested.
    auto* mislabels = section(audit->tree(), QStringLiteral("Likely mislabels"));
    REQUIRE(mislabels);
    REQUIRE(mislabels->childCount() >= 1);
    QTreeWidgetItem* first = mislabels->child(0);
    CHECK(first->text(0) == QStringLiteral("cat/planted.jpg"));
    CHECK(first->text(1).contains(QStringLiteral("→ dog")));
    // The byte copy is an exact duplicate group.
    auto* duplicates = section(audit->tree(), QStringLiteral("Duplicates"));
    REQUIRE(duplicates);
    REQUIRE(duplicates->childCount() >= 1);
    CHECK(duplicates->child(0)->text(1) == QStringLiteral("same pixels"));
    // The map can be coloured by the scores.
    CHECK(w.mapPanel()->colourBy()->findData(QStringLiteral("mislabel score")) >= 0);
    CHECK(w.mapPanel()->colourBy()->findData(QStringLiteral("outlier score")) >= 0);
    CHECK(w.mapPanel()->colourBy()->findData(QStringLiteral("duplicates")) >= 0);
    const int byCentre = w.mapPanel()->colourBy()->findData(QStringLiteral("distance to class centre"));
    REQUIRE(byCentre >= 0);
    // Coloured by it, the legend has the five bands, and their counts cover every image.
    w.mapPanel()->colourBy()->setCurrentIndex(byCentre);
    REQUIRE(w.mapPanel()->legend()->count() == 5);
    int counted = 0;
    for (int b = 0; b < 5; ++b) {
        const QString text = w.mapPanel()->legend()->item(b)->text();
        counted += text.mid(text.lastIndexOf('(') + 1).chopped(1).toInt();
    }
    CHECK(counted == 26);

    // The fix: move it to the suggested class; the data set is read again.
    audit->tree()->clearSelection();
    first->setSelected(true);
    audit->moveSelected();
    REQUIRE(vitrine::testutil::waitFor([&] { return !audit->busy(); }, 60000));
    REQUIRE(w.scanRunner()->waitForIdle(60000));
    CHECK_FALSE(fs::exists(planted));
    CHECK(vitrine::core::readFile(root / "dog" / "planted.jpg") == plantedBytes);
    REQUIRE(vitrine::testutil::waitFor([&] { return w.datasetModel()->rowCount() == 26; }, 60000));
    bool foundAsDog = false;
    for (int r = 0; r < w.datasetModel()->rowCount(); ++r) {
        const auto idx = w.datasetModel()->index(r);
        if (idx.data(DatasetModel::RelativePathRole).toString() == QStringLiteral("dog/planted.jpg"))
            foundAsDog = idx.data(DatasetModel::ClassRole).toString() == QStringLiteral("dog");
    }
    CHECK(foundAsDog);

    // Undo Fix: back where it was, byte for byte.
    audit->undoLastFix();
    REQUIRE(vitrine::testutil::waitFor([&] { return !audit->busy(); }, 60000));
    CHECK(vitrine::core::readFile(planted) == plantedBytes);
    CHECK_FALSE(fs::exists(root / "dog" / "planted.jpg"));
}
