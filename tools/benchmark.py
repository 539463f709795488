"""Speed and memory of reclip_mmseg, as ratios against baselines measured in the same run.

    python tools/benchmark.py CONFIG [--mode model|inference|train|hypotheses|hypotheses_scale|query|prompt|dense|tagclip|distill|postprocess|all] [--dense-mode M ...] [--device cpu|cuda]
        [--random-weights] [--autocast bf16] [--num-classes 20] [--batch 8] [--size 336] [--repeats 5] [--warmup 2] [--out r.json]

model:      the two modes below, one after the other.
inference:  images/s at the config's test scale (a 375x500 original resized as the test pipeline does, padded
            to /16) for the bare CLIPViT forward (the floor), the rectified model and the MaskCLIP head, each
            as logits on the feature grid and end to end through MMSeg's predict (+ resize to the original
            image and argmax, as tools/test.py runs it).
train:      seconds per training iteration at --batch x --size against the bare forward of the same batch;
            peak memory (CPU: process RSS high-water mark; CUDA: max allocated).
hypotheses: windows/s and s/image at 500x375, batched vs one window at a time (votes must be identical).
hypotheses_scale: (a ReCLIP++ config: its window) tools/gen_hypotheses.py's path on --hyp-images synthetic 500x375
            JPEGs: the per-image serial loop (decode in the main thread, one image's windows batched alone) and
            the DataLoader path (--hyp-workers, windows batched across images, part file + merge), each per window
            against the floor (as many preprocessed windows, on the device, in forwards of --hyp-batch), the three
            timed --hyp-repeats times round-robin; 1 against --hyp-ranks ranks (gloo, spawned processes sharing the
            images and the CPU threads; same file bytes?); the projected time for COCO-Stuff-164k train (118,287
            images at 480x640) on one and eight devices from the DataLoader path's time per window, and the
            CPU core-hours its loader workers spend (one worker's decode + crop time per image, one thread).
query:      building the Query embeddings (C x 85 templates): truncated batched encoding vs plain encode_text.
prompt:     Reference prompt forward+backward: shared prefix vs the plain 77-token pass.
dense:      each --dense-mode (default: all) of CLIPViT + the Query head, whole image at the config's test scale
            and slide inference (224 x 224 windows, stride 112, the training-free protocol), as ratios to the
            'maskclip' forward timed in the same run.
tagclip:    (a TagCLIP config) one training iteration (forward + backward + AdamW step through the frozen tower to
            the prompts) at --batch x --size (use 2 x 512, the release's per-GPU batch) and slide inference
            (512 windows, stride 426) of a 375x500 original at short side 512, each against the bare VPTCLIPViT
            forward (no grad) of the same input; peak memory.
distill:    (a *_distill.py config) one distillation iteration (student forward + backward + SGD step, the teacher's
            pseudo labels and features, the three losses) at --batch x --size against its floor, measured in the
            same run: the student's forward + backward + SGD step on its own features plus one no-grad forward of
            the teacher's ViT. Also the teacher's share alone, one ViT pass (what the distiller runs) vs two (the
            teacher's predict and a second backbone pass for the features). The teacher is the rectification
            config's model with the same CLIP, saved to a temporary checkpoint; --student-depth 18/50/101 picks
            the student ResNet (default: the config's). feature_loss_s: the feature-guided L1 at image
            resolution alone, forward + backward (part of the iteration), as the config computes it
            (FeatureDistillLoss.impl, default 'separable'); feature_loss_interpolate_s: the same formula with the
            two image-resolution tensors formed (impl='interpolate').
postprocess: (a config whose model is a CLIPSegmentor) end to end at --num-classes (use 171) for a 375x500 original:
            MMSeg's EncoderDecoder.predict (all C classes resized to the input and to the original, then the
            argmax) and the class-chunked label maps (test_cfg.class_chunk), each against the bare backbone forward
            in the same run, labels compared; then the extra peak memory of one prediction of a 512x683 original
            at C=847 (synthetic names, one template), both paths (CPU: the RSS high-water mark, reset through
            /proc/self/clear_refs before each; CUDA: max allocated).
Random weights (--random-weights) are fine for timing. Medians over --repeats after --warmup runs.
"""
import argparse
import contextlib
import copy
import json
import os
import platform
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
from mmengine.optim import OptimWrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

import reclip_mmseg  # noqa: E402,F401
from reclip_mmseg.clip import OpenCLIPTextEncoder  # noqa: E402

VOCAB_BY_SIZE = {20: 'voc20', 27: 'cocostuff27', 59: 'context59', 150: 'ade20k', 171: 'cocostuff171', 19: 'cityscapes'}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed_interleaved(fns: dict, repeats, warmup, device):
    """Median seconds of each function, run round-robin so that drift of a noisy machine hits all alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            if device.type == 'cuda':
                torch.cuda.synchronize()
            t = time.perf_counter()
            fn()
            if device.type == 'cuda':
                torch.cuda.synchronize()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def timed(fn, repeats, warmup, device):
    return timed_interleaved(dict(only=fn), repeats, warmup, device)['only']


def peak_memory_mb(device):
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak(device):
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)


def model_cfg(config, clip, class_names, head_type=None):
    cfg = Config.fromfile(config)
    model = copy.deepcopy(cfg.model)
    model.backbone.clip = clip
    model.decode_head.text_encoder.clip = clip
    model.decode_head.class_names = class_names
    if head_type == 'MaskCLIPHead':
        head = model.decode_head
        model.decode_head = dict(type='MaskCLIPHead', class_names=class_names, text_encoder=head.text_encoder,
                                 denoise_threshold=head.get('denoise_threshold', 0.0))
    return cfg, model


ORIGINAL_IMAGE = (375, 500)  # a VOC-sized original, resized to the config's test scale as MMSeg's pipeline does


def test_scale(cfg, original=ORIGINAL_IMAGE):
    """(h, w) of the original image after the config's test Resize (keep ratio), before padding to /16."""
    H, W = original
    for step in cfg.test_dataloader.dataset.pipeline:
        if step.type == 'Resize':
            scale = min(max(step.scale) / max(H, W), min(step.scale) / min(H, W))
            return int(H * scale + 0.5), int(W * scale + 0.5)
    return H, W


def samples(B, size, C, train, pad_to=16, original=ORIGINAL_IMAGE):
    """Data samples as MMSeg's test pipeline and SegDataPreProcessor make them: an original image resized to
    ``size`` and padded to a multiple of ``pad_to`` (inference), or crops of ``size`` (training)."""
    h, w = size
    ph, pw = -(-h // pad_to) * pad_to, -(-w // pad_to) * pad_to
    out = []
    for b in range(B):
        s = SegDataSample()
        if train:
            s.set_metainfo(dict(img_shape=size, pad_shape=size, ori_shape=size,
                                image_level_labels=[b % C, (b + 3) % C]))
        else:
            s.set_metainfo(dict(img_shape=size, pad_shape=(ph, pw), ori_shape=original,
                                padding_size=[0, pw - w, 0, ph - h]))
        out.append(s)
    return out


def build_model(args, clip, device, head_type=None):
    cfg, model = model_cfg(args.config, clip, VOCAB_BY_SIZE[args.num_classes], head_type)
    return cfg, MODELS.build(model).to(device).eval()


def bench_inference(args, clip, device):
    cfg, rect = build_model(args, clip, device)
    _, maskclip = build_model(args, clip, device, 'MaskCLIPHead')
    backbone = rect.backbone
    h, w = test_scale(cfg)
    x = torch.randn(1, 3, -(-h // 16) * 16, -(-w // 16) * 16, device=device)
    res = dict(original_image=list(ORIGINAL_IMAGE), test_input=list(x.shape[-2:]), num_classes=args.num_classes)
    with torch.no_grad():
        t = timed_interleaved(dict(
            floor=lambda: backbone(x),
            # the model's logits on the feature grid: what the method computes on top of the floor
            rect_logits=lambda: rect._forward(x),
            mask_logits=lambda: maskclip._forward(x),
            # MMSeg's predict as tools/test.py runs it: + resize of C-channel logits to the input and to the
            # original image, argmax (the same for every MMSeg model with C classes)
            rect=lambda: rect.predict(x, samples(1, (h, w), args.num_classes, False)),
            mask=lambda: maskclip.predict(x, samples(1, (h, w), args.num_classes, False))),
            args.repeats, args.warmup, device)
    res.update(inference_images_per_s={k: 1 / v for k, v in t.items()},
               inference_ratio_vs_floor=dict(rectified_logits=t['rect_logits'] / t['floor'],
                                             maskclip_logits=t['mask_logits'] / t['floor'],
                                             rectified=t['rect'] / t['floor'], maskclip=t['mask'] / t['floor']),
               mmseg_postprocess_share_of_rectified=(t['rect'] - t['rect_logits']) / t['rect'])
    return res


def bench_train(args, clip, device):
    """Forward + backward + SGD step at batch B, size S, against the bare backbone forward of the same batch."""
    _, rect = build_model(args, clip, device)
    backbone = rect.backbone
    B, S = args.batch, args.size
    xb = torch.randn(B, 3, S, S, device=device)
    rect.train()
    optim = OptimWrapper(torch.optim.SGD([p for p in rect.parameters() if p.requires_grad], lr=0.01, momentum=0.9))
    data = samples(B, (S, S), args.num_classes, True)

    def step():
        losses = rect.loss(xb, data)
        optim.update_params(sum(losses.values()))

    def floor_batch():
        with torch.no_grad():
            backbone(xb)

    reset_peak(device)
    t = timed_interleaved(dict(floor=floor_batch, train=step), max(args.repeats // 2, 1), 1, device)
    t_floor_b, t_train = t['floor'], t['train']
    return dict(train_batch=B, train_size=S, num_classes=args.num_classes, train_s_per_iter=t_train,
                backbone_forward_s_same_batch=t_floor_b, train_ratio_vs_floor=t_train / t_floor_b,
                peak_memory_mb=peak_memory_mb(device),
                peak_memory_kind='cuda max allocated' if device.type == 'cuda' else 'process RSS high-water mark')


def bench_hypotheses(args, clip, device):
    from reclip_mmseg.datasets.hypotheses import WindowClassifier, preprocess_windows, resolve_window, window_boxes
    import numpy as np
    from reclip_mmseg.clip import CLIPViT
    image_encoder = CLIPViT(clip=clip).to(device)
    model = image_encoder.clip_model  # the plain reference: open_clip's encode_image, one window per call
    text = OpenCLIPTextEncoder(clip=clip).to(device)
    query = text.class_embeddings(reclip_mmseg.clip.VOCABULARIES[VOCAB_BY_SIZE[args.num_classes]])
    image = torch.rand(3, 375, 500)
    side, step = resolve_window(375, 500, 56, 28)
    boxes = window_boxes(375, 500, side, step)
    batched = WindowClassifier(image_encoder, query.to(device), batch_size=args.hyp_batch)

    def one_by_one():
        votes = np.zeros(query.shape[0], dtype=np.int64)
        qn = torch.nn.functional.normalize(query.to(device).float(), dim=-1)
        with torch.no_grad():
            for box in boxes:
                emb = model.encode_image(preprocess_windows(image.to(device), [box], batched.input_size))
                votes[int((torch.nn.functional.normalize(emb.float(), dim=-1) @ qn.t()).argmax())] += 1
        return votes

    batched.votes(image, boxes[:batched.batch_size])  # warm-up
    t = time.perf_counter()
    votes_batched = batched.votes(image, boxes)
    t_batch = time.perf_counter() - t
    t = time.perf_counter()
    votes_loop = one_by_one()  # the same votes, one window per forward (each pass is timed once: minutes on CPU)
    t_loop = time.perf_counter() - t
    same = bool((votes_batched == votes_loop).all())
    return dict(windows_per_image=len(boxes), window=side, stride=step, identical_votes=same, batch=args.hyp_batch,
                batched_s_per_image=t_batch, loop_s_per_image=t_loop, batched_windows_per_s=len(boxes) / t_batch,
                loop_windows_per_s=len(boxes) / t_loop, speedup=t_loop / t_batch)


COCO_STUFF_164K_TRAIN = 118_287  # train2017 images (COCO-Stuff-164k's training set)
COCO_TYPICAL = (480, 640)  # (h, w) of a typical COCO image


def _synthetic_jpegs(folder, n, size=(375, 500), seed=0):
    """``n`` smooth random JPEGs (h, w = ``size``), as a training folder would hold them."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        low = rng.integers(0, 255, (size[0] // 16 + 1, size[1] // 16 + 1, 3), dtype=np.uint8)
        path = os.path.join(folder, f'{i:012d}.jpg')
        Image.fromarray(low).resize(size[::-1], Image.BICUBIC).save(path, quality=90)
        paths.append(path)
    return paths


def _hypothesis_rank(rank, world, port, spec):
    """One rank of the hypotheses_scale ranks comparison (started with torch.multiprocessing's spawn): joins a
    gloo group, builds the classifier, and times generate_hypotheses over its share between two barriers."""
    import torch.distributed as dist
    import torch.multiprocessing as mp
    from reclip_mmseg.clip import CLIPViT
    from reclip_mmseg.datasets import WindowClassifier, generate_hypotheses
    torch.set_num_threads(max(1, spec['threads'] // world))
    mp.set_start_method('fork', force=True)  # the loader's workers forked, as under torchrun (spawn re-imports all)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world)
    device = spec['device']
    if device.startswith('cuda'):
        device = f'cuda:{rank % torch.cuda.device_count()}'
    classifier = WindowClassifier(CLIPViT(clip=spec['clip']).to(device), spec['query'].to(device),
                                  spec['batch'], precision=spec['precision'])
    size = classifier.input_size
    classifier.top1(torch.zeros(min(spec['batch'], 4), 3, size, size, device=device))  # warm-up, as the main process
    dist.barrier()
    t = time.perf_counter()
    generate_hypotheses(spec['paths'], classifier, spec['classes'], spec['out'], progress=False,
                        workers=spec['workers'], **spec['params'])
    dist.barrier()
    if rank == 0:
        json.dump(dict(seconds=time.perf_counter() - t), open(spec['out'] + '.time', 'w'))
    dist.destroy_process_group()


def bench_hypotheses_scale(args, clip, device):
    """Hypotheses at scale: the per-image serial loop against the DataLoader path, 1 against 2 ranks, the
    per-window floor, and the projection for COCO-Stuff-164k train."""
    import shutil
    import tempfile
    import torch.multiprocessing as mp
    from reclip_mmseg.clip import CLIPViT, VOCABULARIES
    from reclip_mmseg.datasets import WindowClassifier, generate_hypotheses
    from reclip_mmseg.datasets.from_config import hypothesis_params
    from reclip_mmseg.datasets.hypotheses import load_image_rgb, resolve_window, votes_to_labels, window_boxes
    from reclip_mmseg.datasets.hypothesis_run import HypothesisImages
    params = hypothesis_params(Config.fromfile(args.config), args.config)
    params.pop('derived', None)
    params.pop('batch_size')
    if params['mode'] != 'windows':
        raise SystemExit('--mode hypotheses_scale times window votes: give a ReCLIP++ config')
    precision = dict(none='fp32').get(args.autocast, args.autocast)
    classes = VOCABULARIES[VOCAB_BY_SIZE[args.num_classes]]
    query = OpenCLIPTextEncoder(clip=clip).class_embeddings(classes)
    classifier = WindowClassifier(CLIPViT(clip=clip).to(device), query.to(device), args.hyp_batch,
                                  precision=precision)
    workers = args.hyp_workers if args.hyp_workers is not None else min(4, os.cpu_count() or 1)
    folder = tempfile.mkdtemp(prefix='reclip_hyp_bench_')
    try:
        paths = _synthetic_jpegs(folder, args.hyp_images)
        side, step = resolve_window(375, 500, params['window_size'], params['window_stride'])
        boxes = window_boxes(375, 500, side, step, params['window_cover'])
        windows = len(boxes) * len(paths)
        # the floor: the same number of windows, already preprocessed and on the device, in forwards of --hyp-batch
        crops = torch.rand(args.hyp_batch, 3, classifier.input_size, classifier.input_size, device=device)

        def floor():
            for i in range(0, windows, args.hyp_batch):
                classifier.top1(crops[:min(args.hyp_batch, windows - i)])
        for _ in range(args.warmup):
            classifier.top1(crops)

        def serial():  # today's per-image path: decode in this thread, one image's windows batched alone
            labels = {}
            for path in paths:
                image = load_image_rgb(path)
                labels[os.path.basename(path)] = votes_to_labels(classifier.votes(image, boxes),
                                                                 params['min_vote_share'])
            return labels

        def loader(n_workers):
            out = os.path.join(folder, 'loader.json')
            labels = generate_hypotheses(paths, classifier, classes, out, progress=False, workers=n_workers,
                                         **params)
            os.remove(out)
            return labels

        labels = {}
        # each timed --hyp-repeats times, round-robin with the others (a busy machine's drift hits all alike);
        # the DataLoader path also without workers (decode and crop in the main process, windows still batched
        # across images), which separates the workers' share from the batching's
        passes = timed_interleaved(dict(floor=floor, serial=lambda: labels.update(serial=serial()),
                                        loader=lambda: labels.update(loader=loader(workers)),
                                        loader_main=lambda: labels.update(loader_main=loader(0))),
                                   args.hyp_repeats, 0, device)
        t_serial, t_loader, floor = passes['serial'], passes['loader'], passes['floor'] / windows
        serial_labels, loader_labels = labels['serial'], labels['loader']
        result = dict(images=len(paths), image=[375, 500], window=side, stride=step, windows_per_image=len(boxes),
                      batch=args.hyp_batch, workers=workers, precision=precision,
                      floor_s_per_window=floor, serial_s_per_window=t_serial / windows,
                      loader_s_per_window=t_loader / windows, serial_ratio_vs_floor=t_serial / windows / floor,
                      loader_ratio_vs_floor=t_loader / windows / floor, serial_images_per_s=len(paths) / t_serial,
                      loader_images_per_s=len(paths) / t_loader, loader_speedup_vs_serial=t_serial / t_loader,
                      loader_no_workers_ratio_vs_floor=passes['loader_main'] / windows / floor,
                      identical_labels=serial_labels == loader_labels == labels['loader_main'])
        # what one loader worker spends per image (decode + crop + preprocess, one thread): the CPU side to feed
        prep = HypothesisImages(paths, classifier.input_size, **{k: params[k] for k in
                                                                 ('window_size', 'window_stride', 'window_cover')})
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            result['worker_s_per_image'] = timed(lambda: [prep[i] for i in range(len(prep))], 1, 0,
                                                 torch.device('cpu')) / len(prep)
        finally:
            torch.set_num_threads(threads)
        if args.hyp_ranks > 1:
            seconds, files = {}, {}
            for world in (1, args.hyp_ranks):
                out = os.path.join(folder, f'ranks{world}.json')
                spec = dict(clip=clip, query=query.cpu(), classes=list(classes), paths=paths, params=params,
                            batch=args.hyp_batch, precision=precision, workers=max(1, workers // world),
                            threads=torch.get_num_threads(), device=str(device), out=out)
                mp.start_processes(_hypothesis_rank, args=(world, _free_port(), spec), nprocs=world,
                                   start_method='spawn')
                seconds[world] = json.load(open(out + '.time'))['seconds']
                files[world] = open(out, 'rb').read()
            w = args.hyp_ranks
            result.update(ranks=w, ranks1_images_per_s=len(paths) / seconds[1],
                          **{f'ranks{w}_images_per_s': len(paths) / seconds[w],
                             f'ranks{w}_speedup_vs_1': seconds[1] / seconds[w]},
                          identical_file_1_vs_ranks=files[1] == files[w])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    h, w = COCO_TYPICAL
    per_image = len(window_boxes(h, w, *resolve_window(h, w, params['window_size'], params['window_stride']),
                                 params['window_cover']))
    total = COCO_STUFF_164K_TRAIN * per_image
    hours = total * result['loader_s_per_window'] / 3600
    result['projection'] = dict(
        dataset='COCO-Stuff-164k train', images=COCO_STUFF_164K_TRAIN, image=[h, w], windows_per_image=per_image,
        windows=total, device=str(device), s_per_window=result['loader_s_per_window'],
        hours_one_device=hours, hours_eight_devices=hours / 8,
        worker_core_hours=COCO_STUFF_164K_TRAIN * result['worker_s_per_image'] * per_image
        / result['windows_per_image'] / 3600,
        note='DataLoader path\'s measured s/window on this device x windows; eight devices: the images are shared '
             'and nothing is exchanged until the merge, so 1/8 (a GPU figure needs this run on a GPU)')
    return result


def _free_port():
    """A free TCP port on this machine for a process group's rendezvous."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def bench_query(args, clip, device):
    from reclip_mmseg.clip import VOCABULARIES, prompt_name
    text = OpenCLIPTextEncoder(clip=clip, cache_dir=False).to(device)
    names = [prompt_name(n) for n in VOCABULARIES[VOCAB_BY_SIZE[args.num_classes]]]
    prompts = [t.format(n) for n in names for t in text.templates]
    tokens = text.tokenize(prompts)

    def plain():
        with torch.no_grad():
            for i in range(0, len(prompts), 256):
                text.clip_model.encode_text(tokens[i:i + 256])

    t_fast = timed(lambda: text._build_class_embeddings(names, progress=False), 1, 0, device)
    t_plain = timed(plain, 1, 0, device)
    path_cache = OpenCLIPTextEncoder(clip=clip).to(device)
    path_cache.class_embeddings(names, progress=False)  # build + write the disk cache
    fresh = OpenCLIPTextEncoder(clip=clip).to(device)
    t_load = timed(lambda: (fresh._memory_cache.clear(), fresh.class_embeddings(names)), 3, 0, device)
    return dict(classes=len(names), prompts=len(prompts), plain_encode_text_s=t_plain, truncated_build_s=t_fast,
                speedup=t_plain / t_fast, load_from_disk_cache_s=t_load)


def bench_prompt(args, clip, device):
    from reclip_mmseg.clip import VOCABULARIES
    from reclip_mmseg.models import ReferencePromptLearner
    text = OpenCLIPTextEncoder(clip=clip, cache_dir=False).to(device)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learner = ReferencePromptLearner(text, VOCABULARIES[VOCAB_BY_SIZE[args.num_classes]]).to(device)

    def run(shared):
        learner.shared_prefix = shared
        learner.context.grad = None
        learner().sum().backward()

    t_shared = timed(lambda: run(True), args.repeats, args.warmup, device)
    t_plain = timed(lambda: run(False), max(args.repeats // 2, 1), 1, device)
    return dict(classes=args.num_classes, shared_prefix_s=t_shared, plain_77_s=t_plain, speedup=t_plain / t_shared)


LARGE_ORIGINAL = (512, 683)  # an ADE-sized original for the memory row at C = 847


def _rss_mb(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'no {field} in /proc/self/status')


def extra_peak_mb(fn, device):
    """Peak memory ``fn()`` adds to what is held before it: CUDA's max allocated, or on Linux the process's RSS
    high-water mark, reset first through /proc/self/clear_refs (so two calls in one process are comparable)."""
    import gc
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device) / 2 ** 20
        out = fn()
        torch.cuda.synchronize(device)
        return out, torch.cuda.max_memory_allocated(device) / 2 ** 20 - before
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # VmHWM <- VmRSS
    before = _rss_mb('VmRSS')
    out = fn()
    return out, _rss_mb('VmHWM') - before


def bench_postprocess(args, clip, device):
    """Large vocabularies: end to end at C = --num-classes, MMSeg's post-processing (all classes at once) against
    the class-chunked label maps, each against the backbone's forward (the floor) in the same run; then the
    extra peak memory of one prediction at C = 847 on a 512 x 683 original, both paths."""
    from mmseg.models.segmentors import EncoderDecoder
    from reclip_mmseg.models.class_chunks import DEFAULT_CLASS_CHUNK

    def paths(model, x, size, C):
        chunk = args.class_chunk or model.test_cfg.get('class_chunk', None) or DEFAULT_CLASS_CHUNK

        def chunked():
            model.test_cfg['class_chunk'] = chunk
            return model.predict(x, samples(1, size, C, False, original=model.original))

        def mmseg():  # EncoderDecoder's predict: all classes resized at once, then postprocess_result
            return EncoderDecoder.predict(model, x, samples(1, size, C, False, original=model.original))
        return dict(mmseg=mmseg, chunked=chunked), chunk

    def labels(out):
        return [s.pred_sem_seg.data for s in out]

    # one template: the post-processing does not depend on how the class embeddings were made, and 171 x 85
    # prompts through a CPU text tower take minutes
    cfg, spec = model_cfg(args.config, clip, VOCAB_BY_SIZE[args.num_classes])
    spec.decode_head.text_encoder.templates = ['a photo of a {}.']
    model = MODELS.build(spec).to(device).eval()
    model.original = ORIGINAL_IMAGE
    h, w = test_scale(cfg)
    x = torch.randn(1, 3, -(-h // 16) * 16, -(-w // 16) * 16, device=device)
    fns, chunk = paths(model, x, (h, w), args.num_classes)
    with torch.no_grad():
        same = all(torch.equal(a, b) for a, b in zip(labels(fns['mmseg']()), labels(fns['chunked']())))
        t = timed_interleaved(dict(floor=lambda: model.backbone(x), logits=lambda: model._forward(x), **fns),
                              args.repeats, args.warmup, device)
    res = dict(num_classes=args.num_classes, original_image=list(ORIGINAL_IMAGE), test_input=list(x.shape[-2:]),
               class_chunk=chunk, identical_labels=same, seconds=t,
               ratio_vs_floor=dict(logits=t['logits'] / t['floor'], mmseg_postprocess=t['mmseg'] / t['floor'],
                                   class_chunked=t['chunked'] / t['floor']))
    del model
    # C = 847 (ADE-847's size; synthetic names, one template, so the text side builds in seconds)
    C = 847
    cfg, spec = model_cfg(args.config, clip, [f'class number {i}' for i in range(C)])
    spec.decode_head.text_encoder.templates = ['a photo of a {}.']
    model = MODELS.build(spec).to(device).eval()
    model.original = LARGE_ORIGINAL
    h, w = test_scale(cfg, LARGE_ORIGINAL)
    x = torch.randn(1, 3, -(-h // 16) * 16, -(-w // 16) * 16, device=device)
    fns, chunk = paths(model, x, (h, w), C)
    with torch.no_grad():
        model.backbone(x)
        out_mmseg, peak_mmseg = extra_peak_mb(fns['mmseg'], device)
        out_chunked, peak_chunked = extra_peak_mb(fns['chunked'], device)
        _, peak_backbone = extra_peak_mb(lambda: model.backbone(x), device)
    H0, W0 = LARGE_ORIGINAL
    res[f'memory_C{C}'] = dict(
        original_image=list(LARGE_ORIGINAL), test_input=list(x.shape[-2:]), class_chunk=chunk,
        identical_labels=all(torch.equal(a, b) for a, b in zip(labels(out_mmseg), labels(out_chunked))),
        extra_peak_mb=dict(mmseg_postprocess=peak_mmseg, class_chunked=peak_chunked, backbone_alone=peak_backbone),
        logits_at_original_mb=dict(all_classes=C * H0 * W0 * 4 / 2 ** 20, one_chunk=chunk * H0 * W0 * 4 / 2 ** 20))
    return res


def bench_dense(args, clip, device):
    """Each dense mode's inference cost relative to 'maskclip', whole image and slide, round-robin in one run."""
    from reclip_mmseg.clip.image_encoder import DENSE_MODES
    cfg, base = model_cfg(args.config, clip, VOCAB_BY_SIZE[args.num_classes], 'MaskCLIPHead')
    modes = list(dict.fromkeys(['maskclip'] + list(args.dense_mode or DENSE_MODES)))
    h, w = test_scale(cfg)
    x = torch.randn(1, 3, -(-h // 16) * 16, -(-w // 16) * 16, device=device)
    metas = [dict(img_shape=tuple(x.shape[-2:]), pad_shape=tuple(x.shape[-2:]), ori_shape=tuple(x.shape[-2:]))]
    fns, skipped = {}, {}
    for mode in modes:
        model_dict = copy.deepcopy(base)
        model_dict.backbone.dense_mode = mode
        model_dict.test_cfg = dict(mode='slide', crop_size=(224, 224), stride=(112, 112))
        try:
            model = MODELS.build(model_dict).to(device).eval()
        except ValueError as err:  # sc_clip / sfp on a CLIP without their published block indices
            skipped[mode] = str(err)
            continue
        fns[f'{mode}/whole'] = lambda m=model: m._forward(x)
        fns[f'{mode}/slide'] = lambda m=model: m.inference(x, metas)
    with torch.no_grad():
        t = timed_interleaved(fns, args.repeats, args.warmup, device)
    return dict(test_input=list(x.shape[-2:]), num_classes=args.num_classes, seconds=t, skipped=skipped,
                ratio_vs_maskclip={k: v / t[f'maskclip/{k.split("/")[1]}'] for k, v in t.items()})


def bench_tagclip(args, clip, device):
    cfg = Config.fromfile(args.config)
    model_cfg_ = copy.deepcopy(cfg.model)
    model_cfg_.backbone.clip = clip
    model_cfg_.decode_head.text_encoder.clip = clip
    model = MODELS.build(model_cfg_).to(device)
    backbone = model.backbone
    C = model.decode_head.num_classes
    B, S = args.batch, args.size
    xb = torch.randn(B, 3, S, S, device=device)
    data = []
    for b in range(B):
        s = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, C, (1, S, S), device=device)))
        s.set_metainfo(dict(img_shape=(S, S), pad_shape=(S, S)))
        data.append(s)
    optim = OptimWrapper(torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4))

    def step():
        model.train()
        losses = model.loss(xb, data)
        optim.update_params(model.parse_losses(losses)[0])

    def step_checkpointed():
        backbone.checkpoint_blocks = True
        try:
            step()
        finally:
            backbone.checkpoint_blocks = False

    def floor_batch():
        backbone.eval()
        with torch.no_grad():
            backbone(xb)

    def floor_backward():
        """The real floor of deep VPT: forward of the tower and back-propagation through it to the prompts."""
        backbone.train()
        feats = backbone(xb)
        (feats.dense.sum() + feats.global_embed.sum()).backward()
        for p in backbone.parameters():
            p.grad = None

    def saved_for_backward(checkpointed):
        """Bytes the backbone's forward keeps for the backward pass (activations; weights excluded)."""
        weights = {p.untyped_storage().data_ptr() for p in backbone.clip_model.parameters()}
        weights |= {p.untyped_storage().data_ptr() for p in backbone.parameters()}
        seen, total = set(), [0]

        def pack(t):
            ptr = t.untyped_storage().data_ptr()
            if ptr not in weights and ptr not in seen:
                seen.add(ptr)
                total[0] += t.untyped_storage().nbytes()
            return t
        backbone.train()
        backbone.checkpoint_blocks = checkpointed
        try:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                feats = backbone(xb)
        finally:
            backbone.checkpoint_blocks = False
        del feats
        return total[0] / 2 ** 20

    reset_peak(device)
    t = timed_interleaved(dict(floor=floor_batch, floor_backward=floor_backward, train=step,
                               train_checkpointed=step_checkpointed), max(args.repeats // 2, 1), 1, device)
    res = dict(train_batch=B, train_size=S, num_classes=C, train_s_per_iter=t['train'],
               backbone_forward_s_same_batch=t['floor'], train_ratio_vs_floor=t['train'] / t['floor'],
               backbone_forward_backward_s=t['floor_backward'],
               train_ratio_vs_forward_backward_floor=t['train'] / t['floor_backward'],
               train_checkpointed_s_per_iter=t['train_checkpointed'],
               checkpointing_time_ratio=t['train_checkpointed'] / t['train'],
               backbone_saved_for_backward_mb=saved_for_backward(False),
               backbone_saved_for_backward_checkpointed_mb=saved_for_backward(True),
               train_peak_memory_mb=peak_memory_mb(device))
    if device.type == 'cuda':  # peak allocated memory of one iteration each way
        for name, fn in (('train_peak_allocated_mb', step), ('train_checkpointed_peak_allocated_mb', step_checkpointed)):
            torch.cuda.synchronize()
            reset_peak(device)
            fn()
            res[name] = peak_memory_mb(device)
    h, w = test_scale(cfg)
    x = torch.randn(1, 3, h, w, device=device)
    model.eval()
    meta = dict(img_shape=(h, w), ori_shape=ORIGINAL_IMAGE, pad_shape=(h, w), padding_size=[0, 0, 0, 0])
    with torch.no_grad():
        t = timed_interleaved(dict(
            floor=lambda: backbone(x),
            slide=lambda: model.predict(x, [SegDataSample(metainfo=meta)])), args.repeats, args.warmup, device)
    crop, stride = cfg.model.test_cfg.crop_size, cfg.model.test_cfg.stride
    windows = (max(h - crop[0] + stride[0] - 1, 0) // stride[0] + 1) * (max(w - crop[1] + stride[1] - 1, 0) // stride[1] + 1)
    res.update(test_input=[h, w], slide_windows=windows, slide_s_per_image=t['slide'],
               backbone_forward_s_whole_image=t['floor'], slide_ratio_vs_backbone=t['slide'] / t['floor'],
               peak_memory_mb=peak_memory_mb(device),
               peak_memory_kind='cuda max allocated' if device.type == 'cuda' else 'process RSS high-water mark')
    return res


def bench_distill(args, clip, device):
    import tempfile
    from reclip_mmseg.models.reclip_pp.distill import teacher_config
    cfg = Config.fromfile(args.config)
    student_cfg = copy.deepcopy(cfg.model)
    if student_cfg.type != 'ReCLIPDistiller':
        raise SystemExit(f'--mode distill needs a distillation config (configs/reclip_pp/*_distill.py), got {args.config}')
    names = VOCAB_BY_SIZE[args.num_classes]
    teacher = MODELS.build(teacher_config(student_cfg.teacher.config, dict(model=dict(decode_head=dict(
        class_names=names))), clip).model)
    ckpt = os.path.join(tempfile.mkdtemp(prefix='bench_distill_'), 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    student_cfg.teacher.update(checkpoint=ckpt, clip=clip,
                               cfg_options=dict(student_cfg.teacher.get('cfg_options') or {},
                                                model=dict(decode_head=dict(class_names=names))))
    student_cfg.decode_head.class_names = names
    student_cfg.backbone.init_cfg = None
    if args.student_depth:
        student_cfg.backbone.depth = args.student_depth
        student_cfg.decode_head.in_channels = 512 if args.student_depth < 50 else 2048
    model = MODELS.build(student_cfg).to(device).train()
    B, S, C = args.batch, args.size, args.num_classes
    x = torch.randn(B, 3, S, S, device=device)
    data = samples(B, (S, S), C, train=True)
    for s in data:
        s.gt_sem_seg = PixelData(data=torch.randint(0, C, (1, S, S), device=device))
    optim = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9))
    model.loss(x, data)  # builds the teacher and inherits its head
    teacher = model.teacher
    calls = []
    handle = teacher.backbone.register_forward_hook(lambda *a: calls.append(1))

    def train():
        optim.update_params(model.parse_losses(model.loss(x, data))[0])

    def floor():
        with torch.no_grad():
            teacher.backbone(x)
        optim.update_params(model.decode_head.features(model.extract_feat(x)).float().mean())

    def teacher_twice():  # the teacher's predict, then its backbone again for the features (before)
        metas = [SegDataSample(metainfo=dict(img_shape=(S, S), pad_shape=(S, S), ori_shape=(S, S),
                                             padding_size=[0, 0, 0, 0])) for _ in range(B)]
        with torch.no_grad():
            teacher.predict(x, metas)
            teacher.backbone(x)

    calls.clear()
    train()
    per_iteration = len(calls)
    reset_peak(device)
    t = timed_interleaved(dict(floor=floor, train=train), args.repeats, args.warmup, device)
    with torch.no_grad():
        student_feats = model.decode_head.features(model.extract_feat(x))
        teacher_feats = model.teacher_outputs(x)[1]
    student_feats.requires_grad_(True)

    loss_feat = model.decode_head.loss_feat
    as_written = copy.deepcopy(loss_feat)
    as_written.impl = 'interpolate'

    def feature_loss():  # the feature-guided L1 at image resolution, forward + backward (part of `train`)
        loss_feat(student_feats, teacher_feats, (S, S)).backward()

    def feature_loss_as_written():  # the same with both image-resolution tensors formed (impl='interpolate')
        as_written(student_feats, teacher_feats, (S, S)).backward()

    tt = timed_interleaved(dict(once=lambda: model.teacher_outputs(x), twice=teacher_twice,
                                feature_loss=feature_loss, feature_loss_as_written=feature_loss_as_written),
                           args.repeats, args.warmup, device)
    handle.remove()
    return dict(batch=B, size=S, num_classes=C, student_depth=student_cfg.backbone.depth,
                teacher_backbone_calls_per_iteration=per_iteration, train_s_per_iter=t['train'],
                floor_s=t['floor'], train_ratio_vs_floor=t['train'] / t['floor'],
                teacher_one_pass_s=tt['once'], teacher_two_passes_s=tt['twice'],
                teacher_speedup=tt['twice'] / tt['once'], feature_loss_impl=loss_feat.impl,
                feature_loss_s=tt['feature_loss'], feature_loss_interpolate_s=tt['feature_loss_as_written'],
                feature_loss_speedup=tt['feature_loss_as_written'] / tt['feature_loss'],
                peak_memory_mb=peak_memory_mb(device))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--mode', default='model',
                        choices=['model', 'inference', 'train', 'hypotheses', 'hypotheses_scale', 'query', 'prompt',
                                 'dense', 'tagclip', 'distill', 'postprocess', 'all'])
    parser.add_argument('--student-depth', type=int, choices=[18, 50, 101],
                        help='distill mode: the student ResNet depth (default: the config\'s)')
    parser.add_argument('--class-chunk', type=int, help='postprocess mode: classes per chunk (default: the config\'s '
                        'test_cfg.class_chunk, else 16)')
    parser.add_argument('--dense-mode', nargs='+', help="dense modes to time in --mode dense (default: all)")
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--random-weights', action='store_true', help='ViT-B-16 with random weights (timing only)')
    parser.add_argument('--num-classes', type=int, default=20, choices=sorted(VOCAB_BY_SIZE))
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--size', type=int, default=336)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--hyp-batch', type=int, default=64, help='windows per forward in hypotheses mode')
    parser.add_argument('--hyp-images', type=int, default=4, help='hypotheses_scale: synthetic 500x375 JPEGs')
    parser.add_argument('--hyp-workers', type=int, help='hypotheses_scale: DataLoader workers (default min(4, CPUs))')
    parser.add_argument('--hyp-ranks', type=int, default=2, help='hypotheses_scale: ranks compared with 1 (< 2: skip)')
    parser.add_argument('--hyp-repeats', type=int, default=1, help='hypotheses_scale: passes of each path (median)')
    parser.add_argument('--autocast', choices=['none', 'bf16', 'fp16'], default='none',
                        help='run the timed work under torch.autocast with this dtype (default: off, fp32)')
    parser.add_argument('--out', help='write the JSON result here too')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override the CLIP config, key=value')
    args = parser.parse_args()
    init_default_scope('mmseg')
    device = torch.device(args.device)
    model = Config.fromfile(args.config).model
    # a distillation config's CLIP is its teacher's (its own backbone is the student ResNet)
    clip = dict(model.backbone.clip if 'clip' in model.backbone else dict(model_name='ViT-B-16', pretrained='openai'))
    if args.random_weights:
        clip = dict(model_name=clip.get('model_name', 'ViT-B-16'), pretrained=None, allow_random_weights=True)
    if args.cfg_options:
        clip.update(args.cfg_options)
    result = dict(config=args.config, device=str(device), torch=torch.__version__, threads=torch.get_num_threads(),
                  machine=platform.processor() or platform.machine(), clip=clip,
                  cuda=torch.cuda.get_device_name(device) if device.type == 'cuda' else None, autocast=args.autocast)
    dtype = dict(bf16=torch.bfloat16, fp16=torch.float16).get(args.autocast)
    modes = dict(model=['inference', 'train'],
                 all=['inference', 'train', 'hypotheses', 'query', 'prompt', 'dense', 'postprocess']).get(
        args.mode, [args.mode])
    for mode in modes:
        with torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext():
            result[mode] = globals()[f'bench_{mode}'](args, clip, device)
        print(json.dumps({mode: result[mode]}, indent=2), flush=True)
    if args.out:
        json.dump(result, open(args.out, 'w'), indent=2)


if __name__ == '__main__':
    main()
