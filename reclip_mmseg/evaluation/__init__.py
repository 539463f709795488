from .bias_metric import BiasMetric, class_preference_score, space_preference_curve

__all__ = ['BiasMetric', 'class_preference_score', 'space_preference_curve']
