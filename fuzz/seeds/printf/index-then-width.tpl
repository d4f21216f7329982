{{ printf "%[3]2d" 1 2 3 }}
