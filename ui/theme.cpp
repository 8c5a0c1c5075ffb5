#include "ui/theme.h"

#include <QApplication>
#include <QPalette>
#include <QSettings>
#include <QStyle>
#include <QStyleFactory>

namespace vitrine::ui {
namespace {

struct Original {
    QString style;
    QPalette palette;
};

/// The desktop's style and palette, captured before Vitrine first changes them.
const Original& original() {
    static const Original o{qApp->style() ? qApp->style()->name() : QString(), qApp->palette()};
    return o;
}

QPalette darkPalette() {
    QPalette p;
    const QColor window(45, 45, 48), base(30, 30, 32), text(222, 222, 222), disabled(120, 120, 124);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, QColor(40, 40, 43));
    p.setColor(QPalette::ToolTipBase, QColor(55, 55, 58));
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, QColor(150, 150, 155));
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, QColor(55, 55, 58));
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, QColor(255, 90, 90));
    p.setColor(QPalette::Light, QColor(75, 75, 78));
    p.setColor(QPalette::Midlight, QColor(62, 62, 65));
    p.setColor(QPalette::Mid, QColor(50, 50, 53));
    p.setColor(QPalette::Dark, QColor(25, 25, 27));
    p.setColor(QPalette::Shadow, QColor(10, 10, 10));
    p.setColor(QPalette::Highlight, QColor(45, 120, 210));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, QColor(100, 165, 240));
    for (auto role : {QPalette::Text, QPalette::WindowText, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, disabled);
    p.setColor(QPalette::Disabled, QPalette::Highlight, QColor(70, 70, 74));
    return p;
}

} // namespace

QString themeName(Theme theme) {
    switch (theme) {
    case Theme::Light: return QStringLiteral("light");
    case Theme::Dark: return QStringLiteral("dark");
    case Theme::System: break;
    }
    return QStringLiteral("system");
}

Theme savedTheme() {
    const QString name = QSettings().value(QStringLiteral("ui/theme")).toString();
    return name == QLatin1String("dark") ? Theme::Dark : name == QLatin1String("light") ? Theme::Light : Theme::System;
}

void applyTheme(Theme theme) {
    const Original& o = original();
    if (theme == Theme::System) {
        if (!o.style.isEmpty() && qApp->style()->name() != o.style)
            QApplication::setStyle(QStyleFactory::create(o.style));
        QApplication::setPalette(o.palette);
    } else {
        if (qApp->style()->name().compare(QLatin1String("fusion"), Qt::CaseInsensitive) != 0)
            QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
        QApplication::setPalette(theme == Theme::Dark ? darkPalette() : qApp->style()->standardPalette());
    }
    QSettings().setValue(QStringLiteral("ui/theme"), themeName(theme));
}

} // namespace vitrine::ui
