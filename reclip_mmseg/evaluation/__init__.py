from .bias_metric import BiasMetric, class_preference_score, space_preference_curve
from .present_class_iou import PresentClassIoUMetric
from .zero_shot_metric import ZeroShotIoUMetric, harmonic_iou

__all__ = ['BiasMetric', 'class_preference_score', 'space_preference_curve', 'ZeroShotIoUMetric', 'harmonic_iou',
           'PresentClassIoUMetric']
