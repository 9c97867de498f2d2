"""Custom Keras layers, all registered as serialisable under ``keras_har>``."""

from keras_har.layers.attention_pooling import AttentionPooling
from keras_har.layers.cross_channel_attention import CrossChannelSelfAttention
from keras_har.layers.temporal_weighted_aggregation import TemporalWeightedAggregation
from keras_har.layers.time_conv import TimeBatchNormalization, TimeDepthwiseConv2D, TimeMaxPooling2D

__all__ = [
    "AttentionPooling",
    "CrossChannelSelfAttention",
    "TemporalWeightedAggregation",
    "TimeBatchNormalization",
    "TimeDepthwiseConv2D",
    "TimeMaxPooling2D",
]
