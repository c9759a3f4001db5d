#!/bin/bash
# A 20-trial search of the reference model (hparams_search=optuna, sampler seed 1234) with and without pruning,
# side by side on the 2-core machine (one thread each), shortened to 5 epochs of 200 steps per trial so both fit
# in about 25 minutes. Run from the repository root; writes the two studies, their sweeps and logs here.
cd "$(dirname "$0")/../../../.."
out=outputs/results/v0.5.0/pruning
common=(hparams_search=optuna hydra.sweeper.n_trials=20 trainer.max_epochs=5 trainer.limit_train_batches=200
        torch_threads=1 logger=csv)
for mode in with without; do
    pruner=(); [ "$mode" = without ] && pruner=(hydra.sweeper.pruner=null)
    ( start=$(date +%s)
      python -m mnist_lightning.train "${common[@]}" "${pruner[@]}" \
          "hydra.sweeper.storage=sqlite:///$out/$mode.db" "hydra.sweeper.study_name=${mode}_pruning" \
          "hydra.sweep.dir=$out/$mode" > "$out/$mode.log" 2>&1
      echo "exit $? after $(( $(date +%s) - start )) s" >> "$out/$mode.log" ) &
done
wait
