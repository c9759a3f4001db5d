#!/bin/bash
# #26 item 2 after experiment=pico6 (98.67% on the test set, seeds 1-3): new levers on the same 694-parameter net,
# chosen on held-out images (never the test set). experiment=pico6 with 5,000 training images held out, so val/acc
# is the held-out accuracy with the net's 9 shifted views. Baseline: the same net and recipe scored 98.58% (seed 1)
# and 98.56% (seed 2) held out with the 9 views (pico_stack_selection/tta/probe.txt). 99.0% on the test set needs
# about 98.9% here. Seed 1, 1 torch thread each, two at a time on the 2-core Xeon. Runs write to outputs/explore/.
cd "$(dirname "$0")/../../../.."
common="experiment=pico6 data.val_size=5000 test=false optimized_metric=val/acc torch_threads=1 logger=csv callbacks.progress_bar.refresh_rate=1000"
run() { name=$1; shift; .venv/bin/python -m mnist_lightning.train $common hydra.run.dir=outputs/explore/$name "$@" > outputs/explore/$name.log 2>&1; }
# Round 16 (2026-12-06, twelfth session, commit 6cfe6e6):
# (a) training on images shifted by up to 1 pixel (bilinear, no rotation), the views the evaluation averages over:
#     experiment=pico's affine augmentation (10 degrees, 10%) cost 0.4 points on the underfitting net, a shift this
#     small may not, and a net that has seen shifted digits may gain more from the 9 views;
# (b) the three shared repeats' depthwise 3x3 dilated 2, 3 and 1 (repeat_dilations): the same weights read a wider
#     context (receptive field 24 -> 36 pixels before the average), no parameter added.
run p6_shift1_s1 seed=1 data/augment=affine data.augment.degrees=0 data.augment.translate=0.036 &
run p6_dil231_s1 seed=1 +model.net.net.repeat_dilations=[2,3,1] &
wait
# Round 16 ended at 98.28% (shift augmentation: 0.30 points below the baseline's 98.58%; dropped) and 98.76% (dilations
# 2, 3, 1: +0.18 on seed 1, val loss 0.0442).
# Round 17 (commit 758eda6's code, which adds model.net.pooling=gem): the dilated net on seed 2 (baseline 98.56%), and on
# seed 1 with generalized-mean pooling instead of the average (one learned exponent, 695 parameters): the average over
# the 13 x 13 map mixes the digit's responses with the background's.
run p6_dil231_s2 seed=2 +model.net.net.repeat_dilations=[2,3,1] &
run p6_dil231_gem_s1 seed=1 +model.net.net.repeat_dilations=[2,3,1] +model.net.net.pooling=gem &
wait
# Round 17 ended at 98.56% (dilated, seed 2: the baseline's figure to the image) and 98.60% (dilated with GeM pooling,
# seed 1: 0.16 below the dilated net without it, though its training loss and held-out loss were lower, 0.0369 and
# 0.0431 against 0.0418 and 0.0442). The dilations' mean over two seeds, 98.66%, is 0.09 above the baseline's: noise
# or a small gain, far from the 98.9% needed. Training accuracy ends at 98.6-98.8% (one view, live weights), no
# higher than the held-out (corrected later: on some runs it is up to 0.2 higher; see docs/results.md).
# Round 18 (commit e587889's code: repeat_affine per repeat): depth at no parameter cost. The dilated net with three more
# shared repeats whose BatchNorms only normalize (nine blocks, dilations 2, 3, 1, 2, 3, 1; 694 parameters, about 1.6x
# the training FLOPs, 1.4x the time), seeds 1 and 2.
deep9="model.net.net.shared_repeats=6 +model.net.net.repeat_affine=[true,true,true,false,false,false] +model.net.net.repeat_dilations=[2,3,1,2,3,1]"
run p6_deep9_s1 seed=1 $deep9 &
run p6_deep9_s2 seed=2 $deep9 &
wait
# Round 18 ended at 98.44% and 98.24% (seeds 1, 2): below the baseline (98.58%, 98.56%) and the dilated net (98.76%,
# 98.56%), with lower training accuracy too (98.3-98.4%): repeats whose BatchNorms only normalize hurt the fit.
# Round 19 (commit 87df1cb's code): the dilated net with GeM pooling on seed 2 (on seed 1 it fit the training images
# better but scored lower held out), and the dilated net for 60 epochs, the issue's longest schedule (seed 1).
run p6_dil231_gem_s2 seed=2 +model.net.net.repeat_dilations=[2,3,1] +model.net.net.pooling=gem &
run p6_dil231_e60_s1 seed=1 +model.net.net.repeat_dilations=[2,3,1] trainer.max_epochs=60 &
wait
# Round 19 ended at 98.84% (dilated with GeM, seed 2: +0.28 over the baseline's 98.56%, held-out loss 0.0402) and
# 98.64% (dilated, 60 epochs, seed 1: 0.12 below 40 epochs' 98.76%). Dilated with GeM over seeds 1 and 2: 98.72% mean
# (98.60%, 98.84%), against the baseline's 98.57% and the dilated net's 98.66%. It is the held-out choice, saved as
# experiment=pico_dilated (695 parameters); at about 0.1 points below the 98.9% that 99.0% on the test set needs, and
# with one seed at 98.60%, it is not expected to meet item 2. Not run on the test set this session (no time left).
# Round 20 (2026-12-06, thirteenth session, commit efcdc67's code, which adds model.net.simam): on
# experiment=pico_dilated itself (the dilated net with GeM pooling, 98.60% and 98.84% held out), seeds 1 and 2, SimAM
# after every block (model.net.net.simam): attention with no parameters, a nonlinearity that weighs each pixel by how
# much it stands out in its channel. The nets of rounds 16-19 fit the training images little better than unseen ones,
# so what they lack is capacity, and this adds expressiveness at no parameter cost. Started after the pre-registered
# test-set run of pico_dilated (pico_dilated/run.sh), at the same time as round 21 (four runs on 2 cores).
common=${common/experiment=pico6/experiment=pico_dilated}
run p6_dilgem_simam_s1 seed=1 +model.net.net.simam=true &
run p6_dilgem_simam_s2 seed=2 +model.net.net.simam=true &
wait
# Round 21 (commit 97f84e1's code, which adds model.net.classifier=fixed), beside round 20: the Linear layer's 120
# weights are 17% of the budget; a fixed orthonormal projection (a learned scale and the biases) frees them for a
# stem of 8 and blocks 13 wide (692 parameters with GeM), since the stem's width mattered most in rounds 5, 12 and 15.
# experiment=pico_dilated otherwise, seeds 1 and 2.
fixed="+model.net.net.classifier=fixed model.net.net.stem=8 model.net.net.widths=[13,13]"
run p6_dilgem_fixed_s8w13_s1 seed=1 $fixed &
run p6_dilgem_fixed_s8w13_s2 seed=2 $fixed &
wait
# Rounds 20 and 21 ended (2026-12-06, fourteenth session; the four ran side by side at commit cc65a23, clean tree):
# SimAM 98.80% and 98.68% (seeds 1, 2; mean 98.74% against pico_dilated's 98.72%, held-out loss 0.0410 and 0.0417
# against 0.0431 and 0.0402): training accuracy rose (98.97%, 98.90% against 98.82% on seed 1) but the held-out figure
# did not, so noise at best. The fixed classifier with a stem of 8 and blocks of 13: 98.08% and 98.12%, 0.5-0.7 below,
# with lower training accuracy too (98.39%, 98.37%); its averaged weights also scored far below the live ones for the
# first ten epochs (down to 25.8% held out at epoch 8 on seed 2). Neither replaces experiment=pico_dilated, and neither
# was run on the test set.
# Round 22 (2026-12-06, fourteenth session, run at commit 5233e27, clean tree; pico_dilated unchanged): distillation on
# experiment=pico_dilated, seeds 1 and 2, from the teacher trained on the 55,000 training images only
# (pico_stack_selection/teacher_fast6, 99.24% held out; the held-out split is seeded 0 whatever the run's seed, so it
# never saw these held-out images), weight 0.5, temperature 4. On round two's nets it gave +0.18 and -0.44 (one seed
# each); the dilated net with GeM fits the training images to about 98.8%, so softer targets may help it or not.
kd="distill.teacher=outputs/results/v0.5.0/pico_stack_selection/teacher_fast6/checkpoints/last.ckpt distill.weight=0.5"
run p6_dilgem_kd05_s1 seed=1 $kd &
run p6_dilgem_kd05_s2 seed=2 $kd &
wait
# Round 22 ended at 98.46% and 98.46% (seeds 1, 2; held-out loss 0.0464 and 0.0479): 0.26 below pico_dilated's mean
# (98.60%, 98.84%), with training accuracy lower too (98.46%, 98.54% against 98.82% on seed 1). The teacher's softened
# scores make the underfitting net's task harder, as on round two's padded net. Dropped.
# Round 23 (2026-12-06, fifteenth session, commit 4f5e2be): no training. tta/probe.py scores the saved held-out
# networks of rounds 19-20 (pico_dilated and its SimAM variant) under other test-time view sets (output in
# tta/probe.txt): the 5 shifts of a cross gave a mean of 98.76% against the shipped 9 shifts' 98.73% over the four
# networks, 25 shifts no better, and every view set that resamples between pixels was lower. No new view set.
# Round 24 (2026-12-06, sixteenth session, commit of expand/expanded_nets.py): linear over-parameterization (ExpandNets;
# Arora et al. 2018): pico_dilated's network, every convolution and the Linear layer trained as W = U V with a wider
# inner dimension (4 x the rows, at least the columns), U and V balanced from the SVD of the usual initial weight, so
# it starts as the same function and folds back to the same 695 parameters; only the optimization differs (5,019
# trained numbers, so model.max_params is raised for the probe). experiment=pico_dilated otherwise, seeds 1 and 2.
expand="model.net.net._target_=expanded_nets.ExpandedStacked +model.net.net.expansion=4 model.max_params=100000"
export PYTHONPATH=outputs/results/v0.5.0/pico6_selection/expand
common="experiment=pico_dilated data.val_size=5000 test=false optimized_metric=val/acc torch_threads=1 logger=csv callbacks.progress_bar.refresh_rate=1000"
run p6_dilgem_expand4_s1 seed=1 $expand &
run p6_dilgem_expand4_s2 seed=2 $expand &
wait
# Round 24 ended (2026-12-07, sixteenth session; the two ran side by side at commit dfa4a53): 98.82% and 98.80%
# held out (seeds 1, 2; mean 98.81% against pico_dilated's 98.72%; held-out loss 0.0405 and 0.0426 against 0.0431 and
# 0.0402), training accuracy at the last epoch 98.75% and 98.85% (pico_dilated 98.82%, 98.84%). Behind pico_dilated
# until epoch 25 in both held-out and training accuracy (its averaged factors scored far below the live network while
# the learning rate was high: the factors can rotate against each other, W = U Q Q^-1 V, and an average of rotated
# factors is not the average network), ahead from epoch 27 on seed 1, behind from epoch 4 on on seed 2. The first held-out mean at the 98.8% that
# 99.0% on the test set has needed; made a recipe of the project (experiment=pico_expanded) and run on the test set.

# Round 25 (2026-12-07, seventeenth session). First, training through the 9 test-time views (viewtrain/probe.py,
# fine-tuning round 24's held-out checkpoints): no gain (viewtrain/*.txt). Then the project's
# experiment=pico_expanded with factor 8 instead of 4 (the 1x1s, the stem and the Linear layer twice as wide inside;
# the depthwise 3x3s stay at 9, their inputs), seeds 1 and 2 side by side, commit in the runs' metrics.json.
common="data.val_size=5000 test=false optimized_metric=val/acc torch_threads=1 logger=csv callbacks.progress_bar.refresh_rate=1000"
run p6_expand8_s1 experiment=pico_expanded seed=1 model.net.net.factor=8 &
run p6_expand8_s2 experiment=pico_expanded seed=2 model.net.net.factor=8 &
wait
# Round 25 ended (2026-12-07, seventeenth session, commit 4c9d92e, side by side with 1 thread each): factor 8 98.54% and
# 98.90% held out (mean 98.72% against factor 4's 98.81%): not taken. The 9-view fine-tune: no gain either.

# Round 26 (2026-12-07, seventeenth session): experiment=pico_expanded for 60 epochs instead of 40 (the issue's
# schedules go up to 60). On seed 1 the expanded network was behind pico_dilated until about epoch 27 of 40 (its
# factors settle slowly), so it may gain more from a longer schedule than the dilated net without GeM did (98.64% at 60
# against 98.76% at 40, seed 1; pico_dilated itself was never run for 60). Seeds 1 and 2 side by side; the commit is in the runs' metrics.json.
run p6_expand4_e60_s1 experiment=pico_expanded seed=1 trainer.max_epochs=60 &
run p6_expand4_e60_s2 experiment=pico_expanded seed=2 trainer.max_epochs=60 &
wait
# The rule for round 26, written at epoch 48 of 60 (04:08, before the final numbers): the 60-epoch schedule is taken
# (and run on the test set, pre-registered) if its held-out mean is at least 98.86%, 0.05 above round 24's 98.81%.
# Round 26 ended (2026-12-07, seventeenth session, 04:17): 98.94% and 98.96% held out (mean 98.95%, against 98.81%
# at 40 epochs): taken by the rule above, as experiment=pico_expanded60, and run on the test set
# (outputs/results/v0.5.0/pico_expanded60/run.sh, committed before it ran).
