{{ printf "%[1]" 1 }}
