#pragma once
// Layering fixture (never compiled): model must not include train.
#include "core/model/vit.h"
#include "core/train/trainer.h"
