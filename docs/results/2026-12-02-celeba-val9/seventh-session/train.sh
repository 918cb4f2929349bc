# The face model with frozen biases (seventh session): the built-in model's recipe on celeba178/train,
# one thread, 1,371 s. Not shipped: +10.4% BD-rate against the built-in model on these faces.
D=../shared/data
./build/msinr train --data $D/celeba178/train --crop 128 --width 48 --layers 3 --w0 30 \
  --dense-steps 12000 --rounds 8 --round-steps 1500 --last-round-steps 3000 --inner-lr 0.1 --outer-lr 1e-4 --tasks 3 \
  --pixel-fraction 0.25 --seed 1 --freeze-biases --val-data $D/celeba178/val --val-count 4 --fit-lrs 1e-3,3e-3,1e-2 \
  --default-level 1 --threads 1 --checkpoint faces.ckpt --checkpoint-every 180 --out faces-frozen.msm
