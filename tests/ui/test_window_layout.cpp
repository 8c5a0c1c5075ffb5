// The window's layout, offscreen: the first start fits the screen; a welcome page until a
// data set is open, then the map as the main view with the Inspector one key away; the
// training charts and Problems appear only when they have something to show; a toolbar with
// the common actions; and no control clipped at 1366×768 or 1920×1080.
#include <catch2/catch.hpp>

#include "../support/wait_for.h"

#include <QAbstractScrollArea>
#include <QAbstractSlider>
#include <QAbstractSpinBox>
#include <QAccessible>
#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDockWidget>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QPushButton>
#include <QScreen>
#include <QScrollBar>
#include <QSettings>
#include <QStackedWidget>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QToolBar>
#include <QToolButton>

#include "ui/job_runner.h"
#include "ui/main_window.h"
#include "ui/map_panel.h"
#include "ui/scatter_view.h"
#include "ui/welcome_page.h"

using namespace vitrine::ui;

namespace {

void settle() {
    for (int i = 0; i < 5; ++i)
        QCoreApplication::processEvents();
}

/// Widgets drawn partly outside their parent: a control cut off by a window too small for it.
/// Scrolled content and widgets inside scroll areas are allowed to extend past their view.
QStringList clippedWidgets(QWidget& window) {
    QStringList clipped;
    for (QWidget* w : window.findChildren<QWidget*>()) {
        if (!w->isVisible() || w->isWindow() || !w->parentWidget())
            continue;
        bool scrolled = false;
        for (QWidget* a = w->parentWidget(); a && a != &window; a = a->parentWidget())
            if (qobject_cast<QAbstractScrollArea*>(a) || a->objectName() == QLatin1String("qt_scrollarea_viewport"))
                scrolled = true;
        if (scrolled)
            continue;
        // A word-wrapped label shorter than its text needs at its width cuts lines off.
        if (auto* label = qobject_cast<QLabel*>(w); label && label->wordWrap() && !label->text().isEmpty() &&
                                                    label->height() + 1 < label->heightForWidth(label->width())) {
            clipped << QStringLiteral("QLabel '%1' %2 px high, its text needs %3")
                           .arg(label->text().left(40))
                           .arg(label->height())
                           .arg(label->heightForWidth(label->width()));
            continue;
        }
        const QRect inParent = w->geometry();
        const QRect room = w->parentWidget()->rect().adjusted(-1, -1, 1, 1);
        // Wholly outside is how QMainWindow parks the hidden tabs of a dock group; partly
        // outside is a control cut off.
        if (room.intersects(inParent) && !room.contains(inParent))
            clipped << QStringLiteral("%1 '%2' %3x%4+%5+%6 in %7 %8x%9")
                           .arg(QString::fromLatin1(w->metaObject()->className()), w->objectName())
                           .arg(inParent.width())
                           .arg(inParent.height())
                           .arg(inParent.x())
                           .arg(inParent.y())
                           .arg(QString::fromLatin1(w->parentWidget()->metaObject()->className()))
                           .arg(w->parentWidget()->width())
                           .arg(w->parentWidget()->height());
    }
    return clipped;
}

/// A first start: settings from an empty folder (QSettings keeps the first test's file for
/// the whole process, so it is cleared too).
struct FirstStart {
    QTemporaryDir dir;
    FirstStart() {
        qputenv("XDG_CONFIG_HOME", dir.path().toUtf8());
        QSettings().clear();
    }
};

void openDemo(MainWindow& w) {
    w.openFolder(VITRINE_TEST_DATA);
    REQUIRE(w.scanRunner()->waitForIdle(60000));
}

} // namespace

TEST_CASE("the window starts with a welcome, then the map is the main view with the Inspector one key away",
          "[ui][layout]") {
    const FirstStart firstStart;
    MainWindow w;
    w.show();
    settle();

    // First start: sized to the screen, never larger.
    const QRect avail = w.screen()->availableGeometry();
    INFO("available " << avail.width() << "x" << avail.height() << "+" << avail.x() << "+" << avail.y() << ", window "
                      << w.frameGeometry().width() << "x" << w.frameGeometry().height() << "+" << w.frameGeometry().x()
                      << "+" << w.frameGeometry().y());
    // (The offscreen test screen is 800x800 logical pixels, 400x400 at a scale of 2: smaller
    // than the window's minimum. On screens of laptop size and up the window fits exactly.)
    if (avail.width() >= 1024 && avail.height() >= 600) {
        CHECK(avail.contains(w.frameGeometry().adjusted(1, 1, -1, -1)));
        CHECK(w.width() >= avail.width() * 9 / 10);
    } else {
        CHECK(w.width() <= std::max(avail.width(), w.minimumSizeHint().width()) + 8);
    }
    CHECK(avail.intersects(w.frameGeometry()));

    // No data set yet: the welcome page, with its three ways in, its text whole at both sizes.
    CHECK(w.centre()->currentWidget() == w.welcomePage());
    for (const QSize size : {QSize(1366, 740), QSize(1920, 1050)}) {
        w.resize(size);
        settle();
        const QStringList clipped = clippedWidgets(w);
        INFO(size.width() << "x" << size.height() << ": " << clipped.join('\n').toStdString());
        CHECK(clipped.isEmpty());
    }
    CHECK(w.welcomePage()->openButton()->isVisible());
    CHECK(w.welcomePage()->modelButton()->isVisible());

    // Nothing at the bottom until there is something to show.
    auto* charts = w.findChild<QDockWidget*>(QStringLiteral("trainingChartsDock"));
    auto* problems = w.findChild<QDockWidget*>(QStringLiteral("problemsDock"));
    REQUIRE(charts);
    REQUIRE(problems);
    CHECK_FALSE(charts->isVisible());
    CHECK_FALSE(problems->isVisible());

    // The toolbar: the common actions, each with an icon from resources/ and a tooltip.
    QStringList names;
    for (QAction* a : w.toolbar()->actions()) {
        if (a->isSeparator())
            continue;
        QString text = a->iconText();
        if (auto* b = qobject_cast<QToolButton*>(w.toolbar()->widgetForAction(a)); b && b->menu())
            text = b->text();
        names << text;
        INFO(text.toStdString());
        const QIcon icon = qobject_cast<QToolButton*>(w.toolbar()->widgetForAction(a))->icon();
        CHECK_FALSE(icon.isNull());
        CHECK_FALSE(icon.pixmap(22, 22).isNull());
    }
    for (const char* wanted : {"Open", "Demo", "Model", "Compute Map", "Train", "Export", "Map", "Inspector"})
        CHECK(names.contains(QString::fromLatin1(wanted)));
    // Every toolbar action is in a menu too, with its shortcut.
    QStringList inMenus;
    for (QAction* top : w.menuBar()->actions())
        if (top->menu())
            for (QAction* a : top->menu()->actions())
                inMenus << a->objectName() + "=" + a->shortcut().toString();
    CHECK(inMenus.contains(QStringLiteral("computeMapAction=F5")));
    CHECK(inMenus.contains(QStringLiteral("trainAction=Ctrl+Return")));

    // A data set opens: the map takes the centre.
    openDemo(w);
    settle();
    CHECK(w.centre()->currentWidget() == w.mainViews());
    CHECK(w.mainViews()->currentWidget() == w.mapPanel());
    CHECK_FALSE(problems->isVisible()); // the demo photos all open

    // Ctrl+2 / Ctrl+1 switch the main view.
    w.activateWindow();
    REQUIRE(QTest::qWaitForWindowActive(&w));
    QTest::keyClick(&w, Qt::Key_2, Qt::ControlModifier);
    CHECK(w.mainViews()->currentIndex() == 1);
    QTest::keyClick(&w, Qt::Key_1, Qt::ControlModifier);
    CHECK(w.mainViews()->currentIndex() == 0);
    // Ctrl+L folds the legend away and gives its width to the map.
    const int before = w.mapPanel()->view()->width();
    // (A button's shortcut clicks it with a 100 ms animation: wait for it.)
    QTest::keyClick(&w, Qt::Key_L, Qt::ControlModifier);
    CHECK(vitrine::testutil::waitFor([&] { return !w.mapPanel()->legend()->isVisible(); }, 3000));
    settle();
    CHECK(w.mapPanel()->view()->width() > before);
    QTest::keyClick(&w, Qt::Key_L, Qt::ControlModifier);
    CHECK(vitrine::testutil::waitFor([&] { return w.mapPanel()->legend()->isVisible(); }, 3000));
}

TEST_CASE("no control is clipped and the map gets room at 1366x768 and 1920x1080", "[ui][layout]") {
    const FirstStart firstStart;
    MainWindow w;
    w.show();
    openDemo(w);
    CHECK(w.minimumSizeHint().width() <= 1366);
    CHECK(w.minimumSizeHint().height() <= 740);
    for (const QSize size : {QSize(1366, 740), QSize(1920, 1050)}) {
        INFO(size.width() << "x" << size.height());
        w.resize(size);
        settle();
        w.fitToScreen(); // the dock proportions a first start gives (the size stays as resized here)
        w.resize(size);
        settle();
        const QStringList clipped = clippedWidgets(w);
        INFO(clipped.join('\n').toStdString());
        CHECK(clipped.isEmpty());
        // The map view (without its legend) gets at least a quarter of the window.
        const QSize map = w.mapPanel()->view()->size();
        CHECK(map.width() * map.height() >= size.width() * size.height() / 4);
        // The Inspector, one key away, is just as large and fits too.
        w.showMainView(1);
        settle();
        const QStringList clippedInspector = clippedWidgets(w);
        INFO(clippedInspector.join('\n').toStdString());
        CHECK(clippedInspector.isEmpty());
        w.showMainView(0);
    }
}

TEST_CASE("the dark theme recolours the window and the map, and System restores the desktop's", "[ui][layout]") {
    const FirstStart firstStart;
    const QPalette before = qApp->palette();
    MainWindow w;
    w.show();
    openDemo(w);
    settle();
    auto* dark = w.findChild<QAction*>(QStringLiteral("theme-dark"));
    auto* system = w.findChild<QAction*>(QStringLiteral("theme-system"));
    REQUIRE(dark);
    REQUIRE(system);
    dark->trigger();
    settle();
    CHECK(qApp->palette().color(QPalette::Window).lightness() < 80);
    CHECK(QSettings().value(QStringLiteral("ui/theme")).toString() == QStringLiteral("dark"));
    // The map's background follows (no data yet drawn there: the corner pixel is background).
    const QImage map = w.mapPanel()->view()->renderToImage();
    CHECK(map.pixelColor(1, 1) == qApp->palette().color(QPalette::Base));
    system->trigger();
    settle();
    CHECK(qApp->palette().color(QPalette::Window) == before.color(QPalette::Window));
    CHECK(w.mapPanel()->view()->renderToImage().pixelColor(1, 1) == before.color(QPalette::Base));
}

TEST_CASE("the map pans with the arrow keys and zooms with + and -", "[ui][layout]") {
    ScatterView view;
    view.resize(400, 300);
    view.setPositions({QPointF(0, 0), QPointF(1, 1), QPointF(-1, 0.5)}, false, true);
    view.show();
    settle();
    const QPointF start = view.toWidget(QPointF(0, 0));
    QTest::keyClick(&view, Qt::Key_Left);
    const QPointF left = view.toWidget(QPointF(0, 0));
    CHECK(left.x() > start.x()); // the view moved left: the data moves right
    CHECK(left.y() == Approx(start.y()));
    QTest::keyClick(&view, Qt::Key_Up);
    CHECK(view.toWidget(QPointF(0, 0)).y() > left.y());
    const double spread = view.toWidget(QPointF(1, 1)).x() - view.toWidget(QPointF(0, 0)).x();
    QTest::keyClick(&view, Qt::Key_Plus);
    CHECK(view.toWidget(QPointF(1, 1)).x() - view.toWidget(QPointF(0, 0)).x() == Approx(spread * 1.25));
    QTest::keyClick(&view, Qt::Key_Minus);
    CHECK(view.toWidget(QPointF(1, 1)).x() - view.toWidget(QPointF(0, 0)).x() == Approx(spread));
}

TEST_CASE("every control has an accessible name and every setting a tooltip", "[ui][layout]") {
    const FirstStart firstStart;
    MainWindow w;
    w.show();
    openDemo(w);
    settle();
    QStringList unnamed, untipped;
    for (int view = 0; view < 2; ++view) {
        w.showMainView(view);
        settle();
        for (QWidget* c : w.findChildren<QWidget*>()) {
            const bool control = qobject_cast<QAbstractButton*>(c) || qobject_cast<QComboBox*>(c) ||
                                 qobject_cast<QAbstractSpinBox*>(c) || qobject_cast<QAbstractSlider*>(c) ||
                                 qobject_cast<QLineEdit*>(c);
            if (!control || !c->isVisibleTo(&w) || qobject_cast<QScrollBar*>(c) ||
                c->inherits("QDockWidgetTitleButton") || c->objectName().startsWith(QLatin1String("qt_")))
                continue;
            QAccessibleInterface* a = QAccessible::queryAccessibleInterface(c);
            const QString id = QString::fromLatin1(c->metaObject()->className()) + " '" + c->objectName() + "' in " +
                               QString::fromLatin1(c->parentWidget()->metaObject()->className());
            if (!a || a->text(QAccessible::Name).trimmed().isEmpty())
                unnamed << id;
            const bool setting = !qobject_cast<QAbstractButton*>(c) || qobject_cast<QAbstractButton*>(c)->isCheckable();
            if (setting && c->toolTip().isEmpty())
                untipped << id;
        }
    }
    unnamed.removeDuplicates();
    untipped.removeDuplicates();
    INFO("without an accessible name:\n" << unnamed.join('\n').toStdString());
    CHECK(unnamed.isEmpty());
    INFO("settings without a tooltip:\n" << untipped.join('\n').toStdString());
    CHECK(untipped.isEmpty());
}
