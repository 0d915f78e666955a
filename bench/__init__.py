"""cotbench: train discrete sequence generators (MLE, SeqGAN, CoT) and measure them on equal terms."""
