"""mnist-lightning's Optuna sweeper for Hydra: `hydra/sweeper=mnist_optuna` (conf/hparams_search/optuna*.yaml).

Hydra instantiates sweepers only from this `hydra_plugins` namespace package, so the sweeper ships here, beside
`mnist_lightning`. Its own code rather than `hydra-optuna-sweeper`: that plugin (1.3.0, the latest) caps Optuna
below 3.0, which has no journal storage and whose RDB storage breaks under SQLAlchemy 2.
"""

from hydra.core.config_store import ConfigStore

from hydra_plugins.mnist_optuna_sweeper.config import OptunaSweeperConf

ConfigStore.instance().store(
    group="hydra/sweeper", name="mnist_optuna", node=OptunaSweeperConf, provider="mnist_lightning"
)
