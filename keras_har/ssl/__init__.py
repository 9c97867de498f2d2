"""Self-supervised pretraining for HAR, and fine-tuning with few labels.

Pretexts (CPC, reconstruction, multi-task, SimCLR) wrap any encoder and keep
it as ``.encoder``; `pretrain` trains them on variance-sampled unlabelled
windows; `build_classifier` and `label_scarce_study` compare frozen,
finetuned and from-scratch encoders as in Dumbrava et al., "Don't freeze:
Finetune encoders for better Self-Supervised HAR" (arXiv:2307.01168).
"""

from keras_har.ssl import augmentations
from keras_har.ssl.augmentations import AUGMENTATIONS, Augmenter
from keras_har.ssl.cnn_gru_encoder import ENCODERS, CNNGRUEncoder, make_encoder
from keras_har.ssl.cpc import CPC
from keras_har.ssl.finetune import (
    HEAD_UNITS,
    MODES,
    WINDOWS_PER_CLASS,
    PretextRegularizedClassifier,
    build_classifier,
    classifier_on,
)
from keras_har.ssl.losses import info_nce_loss, nt_xent_loss, reconstruction_loss
from keras_har.ssl.multi_task import MultiTask
from keras_har.ssl.pretext_model import PretextModel
from keras_har.ssl.pretraining import (
    ENCODER_FILE,
    PRETEXTS,
    get_pretext_class,
    load_encoder,
    load_metadata,
    load_pretext,
    pretrain,
    save_pretrained,
)
from keras_har.ssl.protocol import (
    FINETUNE_RECIPE,
    copy_pretext,
    difference_trends,
    label_scarce_study,
    mean_ci95,
    paired_differences,
    plot_study,
    save_csv,
    study_differences,
    summarize,
)
from keras_har.ssl.reconstruction import Reconstruction
from keras_har.ssl.sampling import (
    VarianceSampler,
    load_windows,
    pool_windows,
    resample_dataset,
    resample_windows,
    variance_sampling_probabilities,
)
from keras_har.ssl.sim_clr import SimCLR

__all__ = [
    "AUGMENTATIONS", "Augmenter", "CNNGRUEncoder", "CPC", "FINETUNE_RECIPE", "HEAD_UNITS", "MODES", "MultiTask", "PRETEXTS",
    "ENCODER_FILE", "ENCODERS", "make_encoder",
    "PretextModel", "PretextRegularizedClassifier", "Reconstruction", "SimCLR", "VarianceSampler",
    "WINDOWS_PER_CLASS", "augmentations", "build_classifier", "classifier_on", "copy_pretext",
    "difference_trends", "get_pretext_class", "info_nce_loss", "label_scarce_study",
    "load_encoder", "load_metadata", "load_pretext",
    "load_windows", "mean_ci95", "paired_differences", "resample_dataset",
    "nt_xent_loss", "plot_study", "pool_windows", "pretrain", "reconstruction_loss",
    "resample_windows", "save_csv", "save_pretrained", "study_differences", "summarize", "variance_sampling_probabilities",
]
