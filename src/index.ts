// Public entry points are added per area.
export {};
