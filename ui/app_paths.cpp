#include "ui/app_paths.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace vitrine::ui {

QString resourcesDir() {
    const QString appDir = QCoreApplication::applicationDirPath();
    const QStringList candidates{
        qEnvironmentVariable("VITRINE_RESOURCES"),
        appDir + QStringLiteral("/../share/vitrine"),
        QStringLiteral(VITRINE_SOURCE_RESOURCES),
    };
    for (const QString& c : candidates)
        if (!c.isEmpty() && QFileInfo(c + QStringLiteral("/demo")).isDir())
            return QDir(c).canonicalPath();
    return {};
}

QString demoDataDir() {
    QString r = resourcesDir();
    return r.isEmpty() ? QString() : r + QStringLiteral("/demo");
}

} // namespace vitrine::ui
