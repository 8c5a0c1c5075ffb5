#include "ui/inspector_panel.h"

#include <QApplication>

#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QSettings>
#include <QShortcut>
#include <QSlider>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "core/analysis/heatmap.h"
#include "core/analysis/patch_tokens.h"
#include "core/io/atomic_file.h"
#include "ui/image_canvas.h"
#include "ui/qt_convert.h"

namespace vitrine::ui {
namespace an = core::analysis;

namespace {

QImage toQImage(const cv::Mat& rgb) { return matToQImage(rgb); }

const QVector<QColor>& matchColours() {
    static const QVector<QColor> c{QColor(230, 25, 75),  QColor(60, 180, 75),  QColor(255, 225, 25),
                                   QColor(0, 130, 200),  QColor(245, 130, 48), QColor(145, 30, 180),
                                   QColor(70, 240, 240), QColor(240, 50, 230)};
    return c;
}

} // namespace

InspectorPanel::InspectorPanel(QWidget* parent)
    : QWidget(parent), m_view(new QComboBox), m_layer(new QSlider(Qt::Horizontal)), m_layerLabel(new QLabel),
      m_head(new QComboBox), m_rollout(new QCheckBox(tr("Rollout"))), m_discard(new QDoubleSpinBox),
      m_mask(new QCheckBox(tr("DINO mask"))), m_maskShare(new QDoubleSpinBox), m_grid(new QCheckBox(tr("Patch grid"))),
      m_colormap(new QComboBox), m_opacity(new QSlider(Qt::Horizontal)), m_interp(new QComboBox),
      m_classToken(new QToolButton), m_status(new QLabel), m_canvasA(new ImageCanvas), m_canvasB(new ImageCanvas),
      m_canvasDiff(new ImageCanvas) {
    m_view->addItems({tr("Attention"), tr("All heads of the layer"), tr("Token norms"), tr("Patch PCA (RGB)"),
                      tr("Patch PCA, background removed"), tr("High-norm tokens and registers")});
    m_view->setToolTip(tr("What to show: attention maps, every head of the chosen layer at once, the norm of each "
                          "patch token, the first three principal components of the patch tokens as colours, or "
                          "the high-norm \"artefact\" tokens (boxed) where the class token's attention piles up in "
                          "models without registers, with the register tokens of models that have them."));
    m_layer->setToolTip(tr(
        "Transformer layer, numbered from 0 as the model and vitrine-cli number its blocks. PageUp/PageDown also move it."));
    m_layer->setAccessibleName(tr("Layer"));
    m_opacity->setAccessibleName(tr("Heatmap opacity"));
    m_discard->setAccessibleName(tr("Rollout discard ratio"));
    m_maskShare->setAccessibleName(tr("DINO mask attention share"));
    m_maskShare->setToolTip(tr("DINO mask: the share of the attention mass the kept patches hold (0.6 keeps the "
                               "patches that together receive 60 %)"));
    m_layer->setPageStep(1);
    m_head->setToolTip(tr("One attention head, or all heads fused (mean, max, min)."));
    m_rollout->setToolTip(tr("Attention rollout (Abnar & Zuidema 2020): attention propagated through all layers up "
                             "to the chosen one, with the residual connection added. On by default: a single late "
                             "layer of a supervised ViT also attends to a few background 'register' patches "
                             "(often the corners), which rollout averages away."));
    m_rollout->setChecked(true);
    m_discard->setRange(0.0, 0.99);
    m_discard->setSingleStep(0.05);
    m_discard->setDecimals(2);
    m_discard->setPrefix(tr("discard "));
    m_discard->setToolTip(tr("Rollout: share of the lowest attentions dropped in each layer (as vit-explain does)."));
    m_mask->setToolTip(tr("Keep the smallest set of patches that holds the chosen share of the attention mass "
                          "(the DINO paper's masks); the rest is darkened."));
    m_maskShare->setRange(0.05, 1.0);
    m_maskShare->setSingleStep(0.05);
    m_maskShare->setValue(0.6);
    m_maskShare->setDecimals(2);
    m_grid->setChecked(true);
    m_grid->setToolTip(tr("Draw the patch grid: the ViT sees the image as these N patch tokens."));
    for (const auto& name : an::colormapNames())
        m_colormap->addItem(QString::fromStdString(name));
    m_colormap->setToolTip(tr("Colour map of the heatmap"));
    m_opacity->setRange(0, 100);
    m_opacity->setValue(60);
    m_opacity->setToolTip(tr("Heatmap opacity over the photo"));
    m_opacity->setMinimumWidth(80);
    m_opacity->setMaximumWidth(120);
    m_interp->addItems({tr("Bilinear"), tr("Nearest")});
    m_interp->setToolTip(tr("Bilinear: smooth maps. Nearest: one block per patch — what the model resolves."));
    m_classToken->setText(tr("[CLS]"));
    m_classToken->setToolTip(tr("Show where the class token looks (click a patch to see where that patch looks)."));
    m_classToken->setCheckable(true);
    m_classToken->setChecked(true);
    m_status->setWordWrap(true);
    m_canvasDiff->setVisible(false);
    m_canvasB->setVisible(false);

    auto* saveBtn = new QToolButton;
    saveBtn->setText(tr("Save PNG…"));
    saveBtn->setToolTip(tr("Save the current view as a PNG (Ctrl+Shift+S)"));
    saveBtn->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S));
    auto* copyBtn = new QToolButton;
    copyBtn->setText(tr("Copy"));
    copyBtn->setToolTip(tr("Copy the current view to the clipboard (Ctrl+Shift+C)"));
    copyBtn->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));

    auto* row1 = new QHBoxLayout;
    row1->addWidget(m_view);
    row1->addWidget(new QLabel(tr("Layer")));
    row1->addWidget(m_layer, 1);
    row1->addWidget(m_layerLabel);
    row1->addWidget(new QLabel(tr("Head")));
    row1->addWidget(m_head);
    row1->addWidget(m_classToken);
    auto* row2 = new QHBoxLayout;
    row2->addWidget(m_rollout);
    row2->addWidget(m_discard);
    row2->addWidget(m_mask);
    row2->addWidget(m_maskShare);
    row2->addWidget(m_grid);
    row2->addStretch(1);
    // Three short rows rather than two long ones: the panel must fit between the docks on a
    // 1600-pixel-wide screen.
    auto* row3 = new QHBoxLayout;
    row3->addWidget(m_colormap);
    row3->addWidget(m_interp);
    row3->addWidget(new QLabel(tr("Opacity")));
    row3->addWidget(m_opacity);
    row3->addStretch(1);
    row3->addWidget(saveBtn);
    row3->addWidget(copyBtn);
    auto* canvases = new QHBoxLayout;
    canvases->addWidget(m_canvasA, 1);
    canvases->addWidget(m_canvasB, 1);
    canvases->addWidget(m_canvasDiff, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(row1);
    layout->addLayout(row2);
    layout->addLayout(row3);
    layout->addLayout(canvases, 1);
    layout->addWidget(m_status);

    // The viewing choices are remembered between sessions (not the layer or head, which
    // depend on the model).
    {
        QSettings settings;
        m_view->setCurrentIndex(
            std::clamp(settings.value(QStringLiteral("inspector/view"), 0).toInt(), 0, m_view->count() - 1));
        const int cmap = m_colormap->findText(settings.value(QStringLiteral("inspector/colormap")).toString());
        if (cmap >= 0)
            m_colormap->setCurrentIndex(cmap);
        m_opacity->setValue(settings.value(QStringLiteral("inspector/opacity"), m_opacity->value()).toInt());
        m_interp->setCurrentIndex(settings.value(QStringLiteral("inspector/interpolation"), 0).toInt() == 1 ? 1 : 0);
        m_grid->setChecked(settings.value(QStringLiteral("inspector/grid"), true).toBool());
        m_rollout->setChecked(settings.value(QStringLiteral("inspector/rollout"), true).toBool());
    }
    auto remember = [this] {
        QSettings settings;
        settings.setValue(QStringLiteral("inspector/view"), m_view->currentIndex());
        settings.setValue(QStringLiteral("inspector/colormap"), m_colormap->currentText());
        settings.setValue(QStringLiteral("inspector/opacity"), m_opacity->value());
        settings.setValue(QStringLiteral("inspector/interpolation"), m_interp->currentIndex());
        settings.setValue(QStringLiteral("inspector/grid"), m_grid->isChecked());
        settings.setValue(QStringLiteral("inspector/rollout"), m_rollout->isChecked());
    };
    for (QComboBox* box : {m_view, m_colormap, m_interp})
        connect(box, qOverload<int>(&QComboBox::currentIndexChanged), this, remember);
    connect(m_opacity, &QSlider::valueChanged, this, remember);
    connect(m_grid, &QCheckBox::toggled, this, remember);
    connect(m_rollout, &QCheckBox::toggled, this, remember);

    auto rerender = [this] {
        if (!m_updating)
            render();
    };
    connect(m_view, qOverload<int>(&QComboBox::currentIndexChanged), this, rerender);
    connect(m_layer, &QSlider::valueChanged, this, rerender);
    connect(m_head, qOverload<int>(&QComboBox::currentIndexChanged), this, rerender);
    connect(m_rollout, &QCheckBox::toggled, this, rerender);
    connect(m_discard, qOverload<double>(&QDoubleSpinBox::valueChanged), this, rerender);
    connect(m_mask, &QCheckBox::toggled, this, rerender);
    connect(m_maskShare, qOverload<double>(&QDoubleSpinBox::valueChanged), this, rerender);
    connect(m_grid, &QCheckBox::toggled, this, rerender);
    connect(m_colormap, qOverload<int>(&QComboBox::currentIndexChanged), this, rerender);
    connect(m_opacity, &QSlider::valueChanged, this, rerender);
    connect(m_interp, qOverload<int>(&QComboBox::currentIndexChanged), this, rerender);
    connect(m_classToken, &QToolButton::clicked, this, [this] { setQueryPatch(-1); });
    connect(m_canvasA, &ImageCanvas::patchClicked, this, &InspectorPanel::setQueryPatch);
    connect(m_canvasA, &ImageCanvas::patchHovered, this, [this](int p) { updateHoverText(p, false); });
    connect(m_canvasB, &ImageCanvas::patchHovered, this, [this](int p) { updateHoverText(p, true); });
    connect(saveBtn, &QToolButton::clicked, this, [this] {
        QString f = QFileDialog::getSaveFileName(this, tr("Save view"), QStringLiteral("attention.png"),
                                                 tr("PNG (*.png)"));
        if (!f.isEmpty() && !saveSnapshot(f))
            m_status->setText(tr("Could not save %1").arg(f));
    });
    connect(copyBtn, &QToolButton::clicked, this, [this] { QApplication::clipboard()->setImage(snapshot()); });
    rebuildControls();
    render();
}

void InspectorPanel::setInspection(InspectionPtr a, const QString& title) {
    m_a = std::move(a);
    m_b.reset();
    m_titleA = title;
    m_compare = Compare::None;
    rebuildControls();
    render();
}

void InspectorPanel::setImagePair(InspectionPtr a, const QString& titleA, InspectionPtr b, const QString& titleB) {
    m_a = std::move(a);
    m_b = std::move(b);
    m_titleA = titleA;
    m_titleB = titleB;
    m_compare = Compare::Images;
    rebuildControls();
    render();
}

void InspectorPanel::setCheckpointPair(InspectionPtr before, const QString& titleBefore, InspectionPtr after,
                                       const QString& titleAfter) {
    m_a = std::move(before);
    m_b = std::move(after);
    m_titleA = titleBefore;
    m_titleB = titleAfter;
    m_compare = Compare::Checkpoints;
    rebuildControls();
    render();
}

void InspectorPanel::setBusy(const QString& message) { m_status->setText(message); }

void InspectorPanel::setError(const QString& message) {
    m_status->setText(QStringLiteral("<span style='color:#b00'>%1</span>").arg(message.toHtmlEscaped()));
}

void InspectorPanel::setLayer(int layer) { m_layer->setValue(layer + 1); }
void InspectorPanel::setHead(int index) { m_head->setCurrentIndex(index); }
void InspectorPanel::setRollout(bool on) { m_rollout->setChecked(on); }
void InspectorPanel::setMask(bool on) { m_mask->setChecked(on); }
void InspectorPanel::setView(View view) { m_view->setCurrentIndex(int(view)); }

void InspectorPanel::setQueryPatch(int patch) {
    m_query = patch;
    m_classToken->setChecked(patch < 0);
    render();
}

void InspectorPanel::rebuildControls() {
    m_updating = true;
    const int layers = m_a ? m_a->layers() : 1;
    const int heads = m_a ? m_a->heads() : 1;
    // A model with another depth starts on its last layer; otherwise the user's layer stays.
    const bool sameDepth = m_layer->maximum() == layers && m_a;
    const int oldLayer = m_layer->value();
    m_layer->setRange(1, std::max(1, layers));
    m_layer->setValue(sameDepth ? oldLayer : layers);
    const int oldHead = m_head->currentIndex();
    m_head->clear();
    m_head->addItems({tr("mean"), tr("max"), tr("min")});
    for (int h = 0; h < heads; ++h)
        m_head->addItem(tr("head %1").arg(h));
    m_head->setCurrentIndex(oldHead >= 0 && oldHead < m_head->count() ? oldHead : 0);
    if (m_query >= (m_a ? m_a->attention.numPatches() : 0))
        m_query = -1;
    m_canvasB->setVisible(m_compare != Compare::None);
    m_canvasDiff->setVisible(m_compare == Compare::Checkpoints);
    m_updating = false;
}

an::AttentionView InspectorPanel::attentionView(const an::InspectionResult& r) const {
    an::AttentionView v;
    v.layer = std::clamp(m_layer->value() - 1, 0, std::max(0, r.layers() - 1));
    const int hi = m_head->currentIndex();
    v.heads = hi <= 0   ? an::HeadChoice::fused(an::HeadFusion::Mean)
              : hi == 1 ? an::HeadChoice::fused(an::HeadFusion::Max)
              : hi == 2 ? an::HeadChoice::fused(an::HeadFusion::Min)
                        : an::HeadChoice::single(std::min(hi - 3, r.heads() - 1));
    const bool allHeads = View(m_view->currentIndex()) == View::AllHeads;
    v.allHeads = allHeads;
    v.rollout = m_rollout->isChecked() && !allHeads; // the sheet shows one layer's heads
    v.discardRatio = v.rollout ? m_discard->value() : 0.0;
    v.patch = m_query;
    v.maskShare = m_mask->isChecked() ? m_maskShare->value() : 0.0;
    // One map: the canvas draws the grid over it at screen resolution; the sheet's tiles
    // carry their own.
    v.drawGrid = allHeads && m_grid->isChecked();
    v.style.colormap = an::parseColormap(m_colormap->currentText().toStdString());
    v.style.opacity = m_opacity->value() / 100.0;
    v.style.interpolation = m_interp->currentIndex() == 1 ? an::Interpolation::Nearest : an::Interpolation::Bilinear;
    return v;
}

QImage InspectorPanel::renderAttention(const an::InspectionResult& r, cv::Mat* mapOut) const {
    const an::AttentionView attention = attentionView(r);
    const an::HeatmapStyle& style = attention.style;
    const int g = r.gridSize();
    const auto view = View(m_view->currentIndex());
    cv::Mat out;
    if (view == View::Attention || view == View::AllHeads) {
        // The rule `vitrine-cli attention` follows too (core/analysis/attention_view.h).
        return toQImage(
            an::renderAttentionView(r.attention, r.input, attention, view == View::Attention ? mapOut : nullptr));
    }
    if (view == View::TokenNorms) {
        cv::Mat norms = an::tokenNorms(r.patchTokens, g);
        if (mapOut)
            *mapOut = norms;
        out = an::renderHeatmap(r.input, norms, style);
    } else if (view == View::HighNormTokens) {
        const auto high = an::highNormTokens(r.patchTokens, g);
        if (mapOut)
            *mapOut = high.norms;
        out = an::renderHeatmap(r.input, high.norms, style);
        for (int p : high.patches)
            an::highlightPatch(out, g, p, {255, 255, 255}, 2);
    } else if (view == View::PatchPca || view == View::PatchPcaForeground) {
        an::PcaRgbOptions o;
        o.removeBackground = view == View::PatchPcaForeground;
        an::PcaRgb pca = an::pcaRgb(r.patchTokens, g, o);
        out = an::renderPatchColors(r.input, pca.rgb, std::max(0.35, m_opacity->value() / 100.0), style.interpolation);
    }
    if (m_query >= 0)
        an::highlightPatch(out, g, m_query, {255, 64, 64}, 1);
    return toQImage(out);
}

void InspectorPanel::render() {
    if (!m_a || m_a->empty()) {
        m_canvasA->setImage({}, 0);
        m_canvasB->setImage({}, 0);
        m_layerLabel->setText(QString());
        return;
    }
    m_layerLabel->setText(tr("L%1 of %2").arg(m_layer->value() - 1).arg(m_a->layers()));
    for (ImageCanvas* c : {m_canvasA, m_canvasB, m_canvasDiff})
        c->setGridVisible(m_grid->isChecked() && View(m_view->currentIndex()) != View::AllHeads);
    const int g = m_a->gridSize();
    try {
        if (m_compare == Compare::Images && m_b && !m_b->empty()) {
            // A: the chosen patch (or the best matches); B: similarity of that patch to every patch of B.
            cv::Mat a = m_a->input.clone(), b;
            an::HeatmapStyle style;
            style.colormap = an::parseColormap(m_colormap->currentText().toStdString());
            style.opacity = m_opacity->value() / 100.0;
            style.normalize = false;
            if (m_query >= 0) {
                cv::Mat sim = an::patchSimilarityMap(m_a->patchTokens, m_query, m_b->patchTokens, m_b->gridSize());
                cv::Mat sim01;
                sim.convertTo(sim01, CV_32F, 0.5, 0.5); // cosine [-1, 1] -> [0, 1]
                b = an::renderHeatmap(m_b->input, sim01, style);
                an::highlightPatch(a, g, m_query, {255, 60, 60}, 2);
                double mx;
                cv::Point at;
                cv::minMaxLoc(sim, nullptr, &mx, nullptr, &at);
                an::highlightPatch(b, m_b->gridSize(), at.y * m_b->gridSize() + at.x, {255, 60, 60}, 2);
                m_status->setText(tr("Patch %1 of the left image: most similar patch on the right has cosine %2. "
                                     "Click [CLS] to see the best-matching pairs.")
                                      .arg(m_query)
                                      .arg(mx, 0, 'f', 3));
            } else {
                b = m_b->input.clone();
                auto matches = an::bestPatchMatches(m_a->patchTokens, m_b->patchTokens, an::MatchMode::MutualNearest,
                                                    8);
                QStringList lines;
                for (std::size_t i = 0; i < matches.size(); ++i) {
                    QColor c = matchColours()[int(i) % matchColours().size()];
                    cv::Scalar col(c.red(), c.green(), c.blue());
                    an::highlightPatch(a, g, matches[i].patchA, col, 3);
                    an::highlightPatch(b, m_b->gridSize(), matches[i].patchB, col, 3);
                    lines << QStringLiteral("%1↔%2 (%3)")
                                 .arg(matches[i].patchA)
                                 .arg(matches[i].patchB)
                                 .arg(matches[i].similarity, 0, 'f', 2);
                }
                const double cosine = m_a->embedding.dot(m_b->embedding);
                m_status->setText(tr("Embedding cosine similarity %1. Best mutual patch matches (same colour on both "
                                     "sides): %2. Click a patch on the left to see its similarity map.")
                                      .arg(cosine, 0, 'f', 3)
                                      .arg(lines.join(QStringLiteral(", "))));
            }
            m_canvasA->setCaption(m_titleA);
            m_canvasB->setCaption(m_titleB);
            m_canvasA->setImage(toQImage(a), g);
            m_canvasB->setImage(toQImage(b), m_b->gridSize());
            return;
        }
        cv::Mat mapA, mapB;
        m_canvasA->setCaption(m_compare == Compare::None ? QString() : m_titleA);
        m_canvasA->setImage(renderAttention(*m_a, &mapA), View(m_view->currentIndex()) == View::AllHeads ? 0 : g);
        if (m_compare == Compare::Checkpoints && m_b && !m_b->empty()) {
            m_canvasB->setCaption(m_titleB);
            m_canvasB->setImage(renderAttention(*m_b, &mapB), m_b->gridSize());
            if (!mapA.empty() && !mapB.empty() && mapA.size() == mapB.size()) {
                // Difference of the normalised maps: red = more attention after, blue = less.
                cv::Mat d = an::normalizeMap(mapB) - an::normalizeMap(mapA);
                cv::Mat d01;
                d.convertTo(d01, CV_32F, 0.5, 0.5);
                an::HeatmapStyle s;
                s.colormap = an::Colormap::Jet;
                s.normalize = false;
                s.opacity = 0.7;
                s.interpolation = an::Interpolation::Nearest;
                m_canvasDiff->setCaption(tr("after − before"));
                m_canvasDiff->setImage(toQImage(an::renderHeatmap(m_a->input, d01, s)), g);
            }
        }
        if (m_compare == Compare::None && View(m_view->currentIndex()) == View::HighNormTokens)
            m_status->setText(highNormSummary(*m_a));
        else if (m_compare == Compare::None)
            m_status->setText(tr("%1 — %2×%2 patches of %3 px, %4 layers × %5 heads. Click a patch to see where it "
                                 "looks; hover for values.")
                                  .arg(m_titleA)
                                  .arg(g)
                                  .arg(m_a->config.patchSize)
                                  .arg(m_a->layers())
                                  .arg(m_a->heads()));
    } catch (const std::exception& e) {
        setError(QString::fromStdString(e.what()));
    }
}

QString InspectorPanel::highNormSummary(const an::InspectionResult& r) const {
    const int g = r.gridSize();
    const auto high = an::highNormTokens(r.patchTokens, g);
    // The class token's last-layer attention (mean over heads) that the flagged patches take.
    double share = 0;
    for (int h = 0; h < r.heads(); ++h) {
        const cv::Mat a = r.attention.matrix(r.layers() - 1, h);
        for (int p : high.patches)
            share += a.at<float>(0, 1 + p) / r.heads();
    }
    QString text = high.patches.empty()
                       ? tr("No high-norm tokens: every patch token's norm is within %1 of the median %2 (the boxed "
                            "threshold would be %3).")
                             .arg(4.0 * high.spread, 0, 'f', 2)
                             .arg(high.median, 0, 'f', 2)
                             .arg(high.threshold, 0, 'f', 2)
                       : tr("%n high-norm token(s) (boxed): norm above %1, against a median of %2; they take %3 % of "
                            "the class token's last-layer attention over the image.",
                            "", int(high.patches.size()))
                             .arg(high.threshold, 0, 'f', 2)
                             .arg(high.median, 0, 'f', 2)
                             .arg(100.0 * share, 0, 'f', 1);
    if (!r.registerAttention.empty()) {
        QStringList regs;
        double total = 0;
        for (std::size_t k = 0; k < r.registerAttention.size(); ++k) {
            const float norm = static_cast<float>(cv::norm(r.registerTokens.row(int(k)), cv::NORM_L2));
            regs << tr("R%1 ‖%2‖ %3 %").arg(k + 1).arg(norm, 0, 'f', 1).arg(100.0 * r.registerAttention[k], 0, 'f', 2);
            total += r.registerAttention[k];
        }
        text += tr(" %n register token(s) take %1 % of its whole attention: %2.", "", int(r.registerAttention.size()))
                    .arg(100.0 * total, 0, 'f', 2)
                    .arg(regs.join(QStringLiteral(", ")));
    } else {
        text += tr(" This model has no register tokens.");
    }
    return text;
}

void InspectorPanel::updateHoverText(int patch, bool onB) {
    ImageCanvas* canvas = onB ? m_canvasB : m_canvasA;
    const InspectionPtr& r = onB ? m_b : m_a;
    if (patch < 0 || !r || r->empty()) {
        canvas->setHoverText(QString());
        return;
    }
    const int g = r->gridSize();
    QString text = tr("patch %1 (row %2, col %3)").arg(patch).arg(patch / g + 1).arg(patch % g + 1);
    try {
        if (View(m_view->currentIndex()) == View::Attention && m_compare != Compare::Images) {
            cv::Mat map = an::attentionViewMap(r->attention, attentionView(*r));
            text += tr(" · attention %1").arg(map.at<float>(patch / g, patch % g), 0, 'g', 3);
        } else if (View(m_view->currentIndex()) == View::TokenNorms ||
                   View(m_view->currentIndex()) == View::HighNormTokens) {
            const auto high = an::highNormTokens(r->patchTokens, g);
            text += tr(" · ‖token‖ %1").arg(high.norms.at<float>(patch / g, patch % g), 0, 'f', 2);
            if (std::find(high.patches.begin(), high.patches.end(), patch) != high.patches.end())
                text += tr(" · high-norm (artefact) token");
        }
        if (m_compare == Compare::Images && onB && m_query >= 0) {
            cv::Mat sim = an::patchSimilarityMap(m_a->patchTokens, m_query, m_b->patchTokens, g);
            text += tr(" · cosine to patch %1: %2").arg(m_query).arg(sim.at<float>(patch / g, patch % g), 0, 'f', 3);
        }
    } catch (const std::exception&) {
    }
    canvas->setHoverText(text);
}

QImage InspectorPanel::currentImage() const { return m_canvasA->image(); }

QImage InspectorPanel::snapshot() const {
    QList<const ImageCanvas*> shown{m_canvasA};
    if (m_canvasB->isVisible())
        shown << m_canvasB;
    if (m_canvasDiff->isVisible())
        shown << m_canvasDiff;
    int w = 0, h = 0;
    for (auto* c : shown) {
        w += c->image().width() + (w ? 8 : 0);
        h = std::max(h, c->image().height());
    }
    if (w == 0)
        return {};
    QImage out(w, h, QImage::Format_RGB32);
    out.fill(Qt::white);
    QPainter p(&out);
    int x = 0;
    for (auto* c : shown) {
        p.drawImage(x, 0, c->image());
        x += c->image().width() + 8;
    }
    return out;
}

bool InspectorPanel::saveSnapshot(const QString& file) const {
    QImage img = snapshot();
    if (img.isNull())
        return false;
    try {
        cv::Mat rgb(img.height(), img.width(), CV_8UC3);
        QImage conv = img.convertToFormat(QImage::Format_RGB888);
        for (int y = 0; y < conv.height(); ++y)
            std::memcpy(rgb.ptr(y), conv.constScanLine(y), std::size_t(conv.width()) * 3);
        an::writePng(file.toStdString(), rgb);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

} // namespace vitrine::ui
