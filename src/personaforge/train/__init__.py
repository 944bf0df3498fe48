"""Training: planning today (plan.py); SFT, DPO and backends arrive with the training stage."""
