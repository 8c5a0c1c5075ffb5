#pragma once
// The one home for switching autocast in a scope (RAII, current thread, restoring what was
// there): AutocastScope turns bf16 autocast on where the precision asks for it,
// AutocastOffScope turns CPU autocast off inside code that must stay float32 or that casts
// for itself.

#include <ATen/autocast_mode.h>

#include "core/common/precision.h"

namespace vitrine::core {

/// bfloat16 autocast (CPU or CUDA). Clears the cast cache on exit, as Python's
/// torch.autocast does, so weights updated by an optimizer are cast afresh next time. A no-op
/// for Precision::Fp32. Precision::Int8 turns on int8 Linear layers for the current thread
/// instead (CPU, oneDNN; float32 where that engine is missing). Pass a resolved precision
/// (resolveInferencePrecision for inference); Auto is resolved here with resolvePrecision
/// (the training choice) if given.
class AutocastScope {
public:
    explicit AutocastScope(Precision precision, bool cuda = false) : m_cuda(cuda) {
        const Precision p = precision == Precision::Int8 ? precision : resolvePrecision(precision);
        if (p == Precision::Int8 && !cuda && int8Available()) {
            m_int8 = true;
            m_prevInt8 = setInt8LinearsEnabled(true);
            return;
        }
        if (p != Precision::Bf16)
            return;
        m_active = true;
        if (cuda) {
            m_prevEnabled = at::autocast::is_enabled();
            m_prevType = at::autocast::get_autocast_gpu_dtype();
            at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
            at::autocast::set_enabled(true);
        } else {
            m_prevEnabled = at::autocast::is_cpu_enabled();
            m_prevType = at::autocast::get_autocast_cpu_dtype();
            at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
            at::autocast::set_cpu_enabled(true);
        }
    }
    ~AutocastScope() {
        if (m_int8)
            setInt8LinearsEnabled(m_prevInt8);
        if (!m_active)
            return;
        if (m_cuda) {
            at::autocast::set_enabled(m_prevEnabled);
            at::autocast::set_autocast_gpu_dtype(m_prevType);
        } else {
            at::autocast::set_cpu_enabled(m_prevEnabled);
            at::autocast::set_autocast_cpu_dtype(m_prevType);
        }
        if (!m_prevEnabled)
            at::autocast::clear_cache();
    }
    AutocastScope(const AutocastScope&) = delete;
    AutocastScope& operator=(const AutocastScope&) = delete;
    bool active() const { return m_active; }

private:
    bool m_active = false, m_cuda = false, m_prevEnabled = false;
    bool m_int8 = false, m_prevInt8 = false;
    at::ScalarType m_prevType = at::kBFloat16;
};

/// CPU autocast off for a scope (the triplet loss, whose distances bf16 cannot resolve; the
/// ViT's fused bf16 blocks, whose inputs are already bf16).
class AutocastOffScope {
public:
    AutocastOffScope() : m_was(at::autocast::is_cpu_enabled()) { at::autocast::set_cpu_enabled(false); }
    ~AutocastOffScope() { at::autocast::set_cpu_enabled(m_was); }
    AutocastOffScope(const AutocastOffScope&) = delete;
    AutocastOffScope& operator=(const AutocastOffScope&) = delete;

private:
    bool m_was;
};

} // namespace vitrine::core
