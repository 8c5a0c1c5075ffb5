#pragma once
// The window's colours: the desktop's (System), or Vitrine's Light or Dark palette on the
// Fusion style. Heatmaps and class colours are drawn the same in all three; what changes
// is what surrounds them (map and chart backgrounds come from the palette's Base).

#include <QString>

namespace vitrine::ui {

enum class Theme { System, Light, Dark };

/// Applies `theme` to the whole application and remembers it (QSettings "ui/theme").
void applyTheme(Theme theme);
/// The remembered theme (System when none).
Theme savedTheme();
QString themeName(Theme theme);

} // namespace vitrine::ui
