"""Published image reward models read from local folders, never downloaded at run time.

Spec kinds (``--model KIND:PATH``, :data:`IMAGE_REWARDS`): ``clip`` (CLIP score and
PickScore, :mod:`.clip`), ``aesthetic`` (the LAION aesthetic MLP on CLIP image
embeddings, :mod:`.aesthetic`) and ``hpsv2`` (HPSv2 through open_clip, :mod:`.hpsv2`).
Each is also a :class:`~rewardlab.protocols.PixelRewardModel`: its reward is
differentiable in the pixels (:mod:`rewardlab.features.pixels`).
"""
